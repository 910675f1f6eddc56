"""ReconcileCursor moved to the shopify app (common knows no domain app): state only, the table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("common", "0001_initial"), ("shopify", "0005_reconcilecursor")]
    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel("ReconcileCursor")]),
    ]
