from __future__ import annotations

from django.db.models import QuerySet

from .models import PedidoPrivacidade


def requests_for_user(user, *, loja_id: int | None = None) -> QuerySet[PedidoPrivacidade]:
    """A user's own lojas' privacy requests, newest first."""
    qs = PedidoPrivacidade.objects.filter(loja__owner_id=user.pk).order_by("-id")
    return qs.filter(loja_id=loja_id) if loja_id is not None else qs
