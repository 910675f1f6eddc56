"""What the event log keeps: EVENT_LOG_RETENTION_DAYS of events (resume and polling), and every
event an in-house reader (the stock pusher, the Web Push matcher) has not read yet.

Deleted oldest first in batches of ids, each batch its own short transaction: no long lock, no
scan of what is kept (ids grow with time, so the old events are the low ids). Run by the webhook
worker as a background pass (chegouhub/shopify/apps.py), beside the body retention.
A client resuming or polling from an id older than what is kept receives the oldest kept events
onward (docs/history.md): the current stock is in the API, the log is for catching up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from chegouhub.common.logging import channels_log

from .models import Event

BATCH = 5000
MAX_BATCHES = 200  # a pass stops after this many (1,000,000 events); the next pass goes on

# Apps that read the log as a queue register the lowest id they still need (None: nothing).
_READERS: dict[str, Callable[[], int | None]] = {}


def register_event_reader(name: str, lowest_unread: Callable[[], int | None]) -> None:
    _READERS[name] = lowest_unread


def prune_boundary(*, now=None) -> int:
    """Events with an id below this may be deleted (0: none)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_LOG_RETENTION_DAYS)
    # The first event inside the window, walking up from the oldest by id: after a prune that is
    # the first row read, so this costs almost nothing.
    first_kept = Event.objects.filter(created_at__gte=cutoff).order_by("id").values_list("id", flat=True).first()
    if first_kept is None:
        first_kept = (Event.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    for lowest_unread in _READERS.values():
        needed = lowest_unread()
        if needed is not None:
            first_kept = min(first_kept, needed + 1)
    return first_kept


def prune_expired_events(*, now=None, batch: int = BATCH, max_batches: int = MAX_BATCHES) -> dict[str, int]:
    boundary = prune_boundary(now=now)
    deleted = 0
    with connection.cursor() as cur:
        for _ in range(max_batches):
            cur.execute(
                "DELETE FROM realtime_event WHERE id IN"
                " (SELECT id FROM realtime_event WHERE id < %s ORDER BY id LIMIT %s)",
                [boundary, batch],
            )
            deleted += cur.rowcount
            if cur.rowcount < batch:
                break
    if deleted:
        channels_log.info("expired events pruned", extra={"count": deleted, "below_id": boundary})
    return {"events_pruned": deleted} if deleted else {}
