from __future__ import annotations

from django.conf import settings
from django.db import models


class Stream(models.TextChoices):
    ESTOQUE = "estoque"
    NOTIFICATIONS = "notifications"


class Event(models.Model):
    """The durable event log: the source of truth for notifications; its id is the resume cursor."""

    stream = models.CharField(max_length=20, choices=Stream.choices)
    type = models.CharField(max_length=50)
    # Both keys lead a composite index below: their own indexes would only double the writes.
    loja = models.ForeignKey("stores.Loja", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                             db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The stock stream's scope (CONTRACT 10): a loja's socket receives its depósito's stock events.
    deposito = models.ForeignKey("stores.Deposito", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="+", db_index=False)
    priority = models.CharField(max_length=10, default="normal")
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["loja", "stream", "id"]),
            models.Index(fields=["user", "stream", "id"]),
            models.Index(fields=["deposito", "stream", "id"]),
        ]
