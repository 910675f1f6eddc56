"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert: each event wrote five index entries, now three. Only the index goes
(the foreign-key constraint is left as it is, so no table is scanned again to re-validate it).
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("realtime", "0001_initial"),
        ("stores", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="loja",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="stores.loja",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "realtime_event_loja_id_d0f43c85"',
                    'CREATE INDEX IF NOT EXISTS "realtime_event_loja_id_d0f43c85" ON "realtime_event" ("loja_id")',
                ),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="event",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    'DROP INDEX IF EXISTS "realtime_event_user_id_01c98f9d"',
                    'CREATE INDEX IF NOT EXISTS "realtime_event_user_id_01c98f9d" ON "realtime_event" ("user_id")',
                ),
            ],
        ),
    ]
