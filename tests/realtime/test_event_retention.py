"""What the event log keeps (issue 31 item 3): EVENT_LOG_RETENTION_DAYS of events, pruned by the
webhook worker in batches; never an event an in-house reader has not read; and a poll from a cursor
older than what is kept answers with the oldest kept events onward."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from chegouhub.realtime.models import Event
from chegouhub.realtime.retention import prune_expired_events
from chegouhub.stocksync.models import CursorDeposito
from chegouhub.stores.models import Loja

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


@pytest.fixture
def history(api, loja, make_produto):
    """Eight stock events; all but the last three older than four days."""
    produto = make_produto(loja, "SKU-R", estoque=100)
    for _ in range(8):
        r = api.post(f"/api/estoque/produtos/{produto.pk}/movimentacoes/", {"quantidade": -1, "motivo": "x"},
                     format="json")
        assert r.status_code == 201
    ids = list(Event.objects.filter(type="estoque_atualizado").order_by("id").values_list("id", flat=True))[-8:]
    Event.objects.filter(id__lte=ids[-4]).update(created_at=timezone.now() - timedelta(days=4))
    return ids[:-3], ids[-3:]


def test_the_worker_prunes_events_past_the_window_and_a_poll_from_before_it_starts_at_the_oldest_kept(
        api, history, settings):
    old, recent = history
    settings.EVENT_LOG_RETENTION_DAYS = 3
    out = StringIO()
    call_command("process_webhooks", "--once", "--no-alerts", stdout=out)
    assert "events_pruned=" in out.getvalue()
    assert not Event.objects.filter(id__in=old).exists()
    assert set(recent) <= set(Event.objects.values_list("id", flat=True))
    for since in (0, old[2]):  # a cursor from before the window, or one that was pruned
        body = api.get(f"/api/sync-realtime/events/?since={since}").json()
        got = [e["id"] for e in body["events"] if e["type"] == "estoque_atualizado"]
        assert got == recent and body["last_id"] == body["events"][-1]["id"]
    # The window is a setting: with seven days (the default) the same events would all be kept.


def test_a_week_by_default_and_batches_until_done(history, settings):
    old, recent = history
    assert settings.EVENT_LOG_RETENTION_DAYS == 7
    assert prune_expired_events() == {}  # four days old: kept for a week
    Event.objects.filter(id__lte=old[-1]).update(created_at=timezone.now() - timedelta(days=8))
    expired = Event.objects.filter(created_at__lt=timezone.now() - timedelta(days=7)).count()
    assert expired >= len(old)
    assert prune_expired_events(batch=2) == {"events_pruned": expired}  # several batches of two
    assert not Event.objects.filter(id__in=old).exists()
    assert Event.objects.filter(id__in=recent).count() == len(recent)


def test_events_the_stock_pusher_has_not_read_are_kept(loja, history, settings):
    old, recent = history
    settings.EVENT_LOG_RETENTION_DAYS = 3
    Loja.objects.filter(pk=loja.pk).update(sincronizar_estoque=True)
    CursorDeposito.objects.update_or_create(deposito_id=loja.deposito_id, defaults={"ultimo_evento": old[1]})
    prune_expired_events(batch=2)
    left = list(Event.objects.filter(type="estoque_atualizado").order_by("id").values_list("id", flat=True))
    assert left == old[2:] + recent  # the pusher has read up to old[1]: the rest waits for it
