from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('stocksync', '0002_stale_desde'),
    ]

    operations = [
        migrations.AddField(
            model_name='cursordeposito',
            name='ritmo',
            field=models.FloatField(default=0.0),
        ),
    ]
