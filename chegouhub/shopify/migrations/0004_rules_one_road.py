"""Deliveries keep the lines they set aside (`invalid_lines`); the dead `duplicates` column goes;
rejections become one counter per loja, reason and minute (existing rows folded into their
minute's counter, rows without a loja dropped: nothing counted them)."""

from django.db import migrations, models


def fold_rejections(apps, schema_editor):
    Rejection = apps.get_model("shopify", "WebhookRejection")
    Rejection.objects.filter(loja__isnull=True).delete()
    buckets = {}
    for row in Rejection.objects.order_by("id").iterator():
        key = (row.loja_id, row.reason, row.created_at.replace(second=0, microsecond=0))
        buckets.setdefault(key, []).append(row.id)
    for (loja_id, reason, minute), ids in buckets.items():
        Rejection.objects.filter(id=ids[0]).update(created_at=minute, count=len(ids))
        Rejection.objects.filter(id__in=ids[1:]).delete()


def unfold_rejections(apps, schema_editor):
    Rejection = apps.get_model("shopify", "WebhookRejection")
    for row in Rejection.objects.filter(count__gt=1).iterator():
        Rejection.objects.bulk_create(
            [Rejection(loja_id=row.loja_id, reason=row.reason, created_at=row.created_at, count=1)
             for _ in range(row.count - 1)]
        )
    Rejection.objects.update(count=1)


class Migration(migrations.Migration):
    dependencies = [("shopify", "0003_drop_redundant_indexes")]
    operations = [
        migrations.AddField("webhookdelivery", "invalid_lines", models.JSONField(blank=True, default=list)),
        migrations.RemoveField("webhookdelivery", "duplicates"),
        migrations.AddField("webhookrejection", "count", models.PositiveIntegerField(default=1)),
        migrations.AlterField("webhookrejection", "created_at", models.DateTimeField(db_index=True)),
        migrations.RunPython(fold_rejections, unfold_rejections),
        migrations.RemoveField("webhookrejection", "topic"),
        migrations.AlterField(
            "webhookrejection", "loja",
            models.ForeignKey(db_index=False, on_delete=models.deletion.CASCADE, related_name="+",
                              to="stores.loja"),
        ),
        migrations.AddConstraint(
            "webhookrejection",
            models.UniqueConstraint(fields=["loja", "reason", "created_at"], name="rejection_one_row_a_minute"),
        ),
    ]
