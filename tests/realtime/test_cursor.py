"""The delivery cursor on its own: which events a socket sends, in which order, with no socket."""

from __future__ import annotations

from chegouhub.realtime.cursor import DeliveryCursor


def ev(i: int) -> dict:
    return {"id": i, "type": "estoque_atualizado"}


def ids(events) -> list[int]:
    return [e["id"] for e in events]


def test_events_that_follow_the_cursor_go_out_at_once_and_repeats_never():
    c = DeliveryCursor()
    c.start(10)
    assert ids(c.offer(ev(11), 10)) == [11]
    assert ids(c.offer(ev(12), 11)) == [12]
    assert c.offer(ev(12), 11) == [] and c.offer(ev(9), 8) == []
    assert not c.waiting and c.cursor == 12


def test_an_event_ahead_of_a_missing_one_waits_then_both_go_out_in_order():
    c = DeliveryCursor()
    c.start(10)
    assert c.offer(ev(13), 12) == [] and c.waiting  # 11 and 12 are missing
    assert ids(c.offer(ev(11), 10)) == [11]
    assert c.waiting  # 12 still missing
    assert ids(c.offer(ev(12), 11)) == [12, 13]
    assert not c.waiting and c.cursor == 13


def test_a_gap_filled_from_the_log_releases_what_was_held():
    c = DeliveryCursor()
    c.start(10)
    c.offer(ev(14), 13)
    assert ids(c.advance([ev(11), ev(12), ev(13)])) == [11, 12, 13]
    assert ids(c.release()) == [14]
    assert not c.waiting


def test_a_gap_filled_past_what_was_held_drops_the_held_copies():
    c = DeliveryCursor()
    c.start(10)
    c.offer(ev(12), 11)
    c.advance([ev(11), ev(12), ev(13)])
    assert c.release() == [] and not c.waiting and c.cursor == 13


def test_an_event_without_prev_id_waits_for_the_log():
    c = DeliveryCursor()
    c.start(5)
    assert c.offer(ev(6), None) == [] and c.waiting


def test_resume_below_the_floor_sends_the_older_range_first_and_moves_the_floor():
    c = DeliveryCursor()
    c.start(20)
    assert c.resume_before_floor(7) == (7, 20)
    c.resumed_from(7)
    assert c.floor == 7 and c.cursor == 20
    assert c.resume_before_floor(15) is None  # already sent on this socket: nothing again


def test_resume_beyond_the_cursor_skips_what_the_client_already_has():
    c = DeliveryCursor()
    c.start(20)
    assert c.resume_before_floor(25) is None
    assert c.cursor == 25
    assert c.offer(ev(24), 23) == []  # the client had it (another socket, polling)
    assert ids(c.offer(ev(26), 25)) == [26]
