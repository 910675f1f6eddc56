from __future__ import annotations

from django.db import models
from django.db.models import Q


class DeliveryStatus(models.TextChoices):
    PROCESSING = "processing"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"  # will be retried by `process_webhooks`
    DEAD = "dead"  # retries exhausted; replay by hand
    INVALID = "invalid"  # verified but not a JSON object; kept for inspection


class WebhookDelivery(models.Model):
    """The inbox: every verified delivery, raw, exactly as Shopify sent it."""

    # Indexed by (loja, created_at) below; the key's own index would be a second copy to maintain.
    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    shop_domain = models.CharField(max_length=255)
    topic = models.CharField(max_length=100)
    webhook_id = models.CharField(max_length=255, unique=True)
    event_id = models.CharField(max_length=255, null=True, blank=True)
    api_version = models.CharField(max_length=20, blank=True, default="")
    triggered_at = models.CharField(max_length=64, blank=True, default="")
    body = models.BinaryField()
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PROCESSING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    order_id = models.BigIntegerField(null=True, blank=True)
    unmapped_skus = models.JSONField(default=list, blank=True)
    invalid_lines = models.JSONField(default=list, blank=True)  # [{"posicao", "motivo"}]: lines set aside
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["shop_domain", "topic", "event_id"],
                condition=Q(event_id__isnull=False),
                name="delivery_unique_event",
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"]), models.Index(fields=["loja", "created_at"])]


class RejectionReason(models.TextChoices):
    DUPLICATE = "duplicado"
    HMAC_INVALID = "hmac_invalido"


class WebhookRejection(models.Model):
    """Requests that changed nothing but count in the stats (repeats and bad signatures), counted
    per loja, reason and minute: a flood adds to one row, never a row a request. Rows older than
    WEBHOOK_REJECTION_RETENTION_DAYS are purged (`services.purge_rejections`)."""

    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="+", db_index=False)
    reason = models.CharField(max_length=20, choices=RejectionReason.choices)
    created_at = models.DateTimeField(db_index=True)  # the minute counted
    count = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["loja", "reason", "created_at"], name="rejection_one_row_a_minute")
        ]


class OrderLedger(models.Model):
    """What we know of one Shopify order (facts) and what we already applied to stock.

    paid_lines: {line_item_id: {"sku": str|None, "produto_id": int|None, "quantidade": int}}
    refunds:    {refund_id: {line_item_id: restocked quantity}}
    applied:    {line_item_id: signed quantity already applied to stock}
    """

    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="orders",
                             db_index=False)  # led by ledger_unique_order
    order_id = models.BigIntegerField()
    order_name = models.CharField(max_length=100, blank=True, default="")
    paid = models.BooleanField(default=False)
    cancelled = models.BooleanField(default=False)
    paid_lines = models.JSONField(default=dict)
    refunds = models.JSONField(default=dict)
    applied = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["loja", "order_id"], name="ledger_unique_order")]


class ReconcileCursor(models.Model):
    """Where reconciliation of a loja's orders got to: the next run asks Shopify for the orders
    updated since `orders_until` (minus an overlap), so a worker that was down for days still
    catches up on everything it missed."""

    loja = models.OneToOneField("stores.Loja", on_delete=models.CASCADE, related_name="+")
    orders_until = models.DateTimeField()
    last_run_at = models.DateTimeField(auto_now=True)
    last_orders = models.PositiveIntegerField(default=0)
    last_corrected = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        db_table = "common_reconcilecursor"  # created by the common app before it moved here


class WebhookDailyCount(models.Model):
    """What the stats count, per loja and UTC day, kept as deliveries arrive (issue 31): the stats
    read a few rows a day instead of scanning a year of deliveries.

    `kind`/`key`: `status`/<status>, `topic`/<topic>, `sku`/<unmapped sku>, `sem_sku`/"" (a line
    without a SKU), `motivo`/<why a line was set aside>. Written only by PostgreSQL triggers on the
    deliveries table (migration 0006), whichever path inserts or updates a delivery; `shard` spreads
    one day's hot counter over a few rows (by server connection) so concurrent webhooks never queue
    on one row lock. No foreign-key constraint: a loja's deletion removes its deliveries, and their
    delete trigger would write here while the loja goes; rows of lojas gone are dropped by
    `prune_daily_counts`, with those older than the stats' longest window.
    """

    loja = models.ForeignKey("stores.Loja", on_delete=models.DO_NOTHING, related_name="+", db_index=False,
                             db_constraint=False)
    day = models.DateField()
    kind = models.CharField(max_length=10)
    key = models.CharField(max_length=255)
    shard = models.SmallIntegerField(default=0)
    n = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["loja", "day", "kind", "key", "shard"], name="webhook_daily_count_key")
        ]
