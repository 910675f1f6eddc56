"""The outbox of alerts sent to the lojas' Slack and Discord incoming webhooks."""

from __future__ import annotations

from django.db import models


class Channel(models.TextChoices):
    SLACK = "slack"
    DISCORD = "discord"


class OutboundStatus(models.TextChoices):
    PENDING = "pending"  # to be sent (now or at next_attempt_at)
    SENDING = "sending"  # claimed by a sender until claimed_until
    SENT = "sent"
    DEAD = "dead"  # permanent refusal or retries exhausted


class OutboundAlert(models.Model):
    """One message to one destination. Written in the same transaction as the fact it reports,
    so it exists exactly when the fact does; sent after commit, retried until sent or dead."""

    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    kind = models.CharField(max_length=40)
    text = models.TextField()
    dedupe_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
