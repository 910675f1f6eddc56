from __future__ import annotations

from django.db import models


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
