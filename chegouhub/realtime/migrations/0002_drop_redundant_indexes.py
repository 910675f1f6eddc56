"""A foreign key's own index beside a composite index that starts with the same column is a second
copy to maintain on every insert: each event wrote five index entries, now three. Only the index
goes, concurrently on PostgreSQL (chegouhub/common/migration_ops.py).
"""

from django.conf import settings
from django.db import migrations, models

from chegouhub.common.migration_ops import drop_foreign_key_index


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY runs outside a transaction
    dependencies = [
        ("realtime", "0001_initial"),
        ("stores", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        drop_foreign_key_index(
            "event", "loja",
            models.ForeignKey(blank=True, null=True, db_index=False, on_delete=models.deletion.CASCADE,
                              related_name="+", to="stores.loja"),
            "realtime_event_loja_id_d0f43c85", "realtime_event", "loja_id",
        ),
        drop_foreign_key_index(
            "event", "user",
            models.ForeignKey(blank=True, null=True, db_index=False, on_delete=models.deletion.CASCADE,
                              related_name="+", to=settings.AUTH_USER_MODEL),
            "realtime_event_user_id_01c98f9d", "realtime_event", "user_id",
        ),
    ]
