"""The event log's ordering guarantee under concurrent writers (what makes `resume` sound).

Within a scope (a loja's stock stream, a user's notifications) an event must never become visible
after a higher id of the same scope: a client that saw the higher one first and resumed from it
would skip the lower one forever. And each published message's `prev_id` must be exactly the
previous event of its scope, so a socket can tell a gap from a neighbour.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection, transaction

from chegouhub.realtime import events as events_module
from chegouhub.realtime.events import NewEvent, record_events
from chegouhub.realtime.models import Event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def stock_event(loja_id: int, n: int) -> NewEvent:
    return NewEvent(type="estoque_atualizado", loja_id=loja_id,
                    data={"loja_id": loja_id, "produto_id": n, "sku": f"S{n}", "estoque_anterior": 1,
                          "estoque_atual": 0, "quantidade": -1, "origem": "manual"})


def test_events_of_a_scope_become_visible_in_id_order_and_chain_by_prev_id(monkeypatch, make_user, make_loja):
    owner = make_user()
    lojas = [make_loja(owner), make_loja(owner)]
    published: list = []
    lock = threading.Lock()

    def capture(messages):
        with lock:
            published.extend(messages)

    monkeypatch.setattr(events_module, "publish", capture)
    stop = threading.Event()
    snapshots: list[tuple[int, list[int]]] = []
    failures: list[BaseException] = []

    def writer(seed: int):
        rnd = random.Random(seed)
        try:
            for n in range(6):
                loja = lojas[rnd.randrange(2)]
                with transaction.atomic():
                    record_events([stock_event(loja.pk, n) for _ in range(rnd.randint(1, 2))])
                    time.sleep(rnd.random() * 0.02)  # hold the transaction open after the insert
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            connection.close()

    def reader():
        try:
            while not stop.is_set():
                for loja in lojas:
                    ids = list(Event.objects.filter(loja=loja, stream="estoque").order_by("id")
                               .values_list("id", flat=True))
                    snapshots.append((loja.pk, ids))
                time.sleep(0.002)
        finally:
            connection.close()

    readers = [threading.Thread(target=reader)]
    writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(6)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not failures, failures

    final = {loja.pk: list(Event.objects.filter(loja=loja, stream="estoque").order_by("id")
                           .values_list("id", flat=True)) for loja in lojas}
    assert sum(len(v) for v in final.values()) >= 36
    assert len(snapshots) > 10
    for loja_id, ids in snapshots:
        if ids:
            # what was visible is exactly the final log up to the newest visible id: no hole filled later
            assert ids == [i for i in final[loja_id] if i <= ids[-1]], (loja_id, ids)

    by_id = {m[1]["id"]: m for m in published}
    for loja_id, ids in final.items():
        assert [by_id[i].prev_id for i in ids] == [0] + ids[:-1]
