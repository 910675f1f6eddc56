from __future__ import annotations

from django.db.models import Q, QuerySet

from chegouhub.stores.models import Loja

from .models import Event, Stream


def visible_events(*, user_id: int, loja_id: int | None = None, stream: str | None = None) -> QuerySet[Event]:
    """Events a user may see: their depósitos' stock events and their own notifications. With a
    loja: its depósito's stock events (CONTRACT 10) and that loja's notifications."""
    estoque = Q(stream=Stream.ESTOQUE, deposito__owner_id=user_id)
    if loja_id is not None:
        estoque &= Q(deposito_id__in=Loja.objects.filter(pk=loja_id, owner_id=user_id).values("deposito_id"))
    notifications = Q(stream=Stream.NOTIFICATIONS, user_id=user_id)
    if loja_id is not None:  # only that loja's: another loja's webhook_status_change is not about it
        notifications &= Q(loja_id=loja_id)
    if stream == Stream.ESTOQUE:
        cond = estoque
    elif stream == Stream.NOTIFICATIONS:
        cond = notifications
    else:
        cond = estoque | notifications
    return Event.objects.filter(cond).order_by("id")


def events_after(*, user_id: int, since: int, loja_id: int | None = None, stream: str | None = None,
                 limit: int = 500) -> list[Event]:
    return list(visible_events(user_id=user_id, loja_id=loja_id, stream=stream).filter(id__gt=since)[:limit])


def scope_events(*, user_id: int, stream: str, loja_id: int | None = None, after: int, upto: int | None = None,
                 limit: int = 500) -> list[Event]:
    """One socket's events (a loja's stock stream or the user's notifications) in (after, upto], by id."""
    qs = visible_events(user_id=user_id, loja_id=loja_id, stream=stream).filter(id__gt=after)
    if upto is not None:
        qs = qs.filter(id__lte=upto)
    return list(qs[:limit])


def scope_last_id(*, user_id: int, stream: str, loja_id: int | None = None) -> int:
    """The newest event id of one socket's scope (0 when there is none)."""
    last = visible_events(user_id=user_id, loja_id=loja_id, stream=stream).order_by("-id").values_list("id", flat=True)
    return next(iter(last[:1]), 0)
