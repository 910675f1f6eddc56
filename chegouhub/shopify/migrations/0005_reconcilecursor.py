"""ReconcileCursor, moved here from the common app: state only, its table (common_reconcilecursor) stays."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("shopify", "0004_rules_one_road"), ("common", "0001_initial"), ("stores", "0001_initial")]
    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name="ReconcileCursor",
                fields=[
                    ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                    ("orders_until", models.DateTimeField()),
                    ("last_run_at", models.DateTimeField(auto_now=True)),
                    ("last_orders", models.PositiveIntegerField(default=0)),
                    ("last_corrected", models.PositiveIntegerField(default=0)),
                    ("last_error", models.CharField(blank=True, default="", max_length=300)),
                    ("loja", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                  to="stores.loja")),
                ],
                options={"db_table": "common_reconcilecursor"},
            ),
        ]),
    ]
