"""Web Push: inscrições (a browser's push subscription), the worker's cursor, and the outbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from chegouhub.stores.fields import EncryptedTextField


class Inscricao(models.Model):
    """One browser (PushSubscription) of one user, with what they want to hear about."""

    # The unique (user, endpoint) index below leads with the user: its own index would be a copy.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inscricoes_push",
                             db_index=False)
    # The endpoint is a capability URL (whoever has it can push to the device): never logged nor shown.
    endpoint = models.TextField()
    # Unique per user without an index on a TEXT column (PostgreSQL B-tree limit): a digest.
    endpoint_sha256 = models.CharField(max_length=64)
    p256dh = models.CharField(max_length=200)
    auth = EncryptedTextField()  # the subscription's auth secret: encrypted at rest, never answered
    lojas = models.ManyToManyField("stores.Loja", blank=True, related_name="+",
                                   through="InscricaoLoja")  # empty: every loja of the user
    tipos = models.JSONField(default=list)
    desde_evento_id = models.BigIntegerField(default=0)  # the log's last id when it was created
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint_sha256"], name="push_inscricao_unique_endpoint")
        ]


class InscricaoLoja(models.Model):
    # The unique (inscricao, loja) index leads with the inscrição: its own index would be a copy.
    inscricao = models.ForeignKey(Inscricao, on_delete=models.CASCADE, db_index=False)
    loja = models.ForeignKey("stores.Loja", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inscricao", "loja"], name="push_inscricao_loja_unique")]


class PushCursor(models.Model):
    """The last event-log id the matcher turned into outbox rows. One row; workers lock it to claim a range."""

    name = models.CharField(max_length=40, primary_key=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)


class PushStatus(models.TextChoices):
    PENDING = "pending"  # to be sent (now or at next_attempt_at)
    SENDING = "sending"  # claimed by a sender until claimed_until
    SENT = "sent"
    DEAD = "dead"  # refused for good, or retries exhausted


class PushMessage(models.Model):
    """One notification to one inscrição: the outbox, retried until sent or dead."""

    inscricao = models.ForeignKey(Inscricao, on_delete=models.CASCADE, related_name="mensagens")
    kind = models.CharField(max_length=40)
    topic = models.CharField(max_length=32)  # Web Push `Topic`: a newer message replaces an undelivered one
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=PushStatus.choices, default=PushStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
