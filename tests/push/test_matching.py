"""The matcher's reading of the log: an id missing below a visible one may be a transaction still
running (ids are allocated at insert, commits happen in any order across lojas)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from chegouhub.push.services import _readable

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


def events(*pairs):
    return [SimpleNamespace(id=i, created_at=NOW - timedelta(seconds=age)) for i, age in pairs]


@pytest.fixture(autouse=True)
def settle(settings):
    settings.PUSH_SETTLE_SECONDS = 5.0


def test_contiguous_ids_are_read_at_once():
    assert [e.id for e in _readable(events((11, 0), (12, 0), (13, 0)), 10, NOW)] == [11, 12, 13]


def test_a_recent_hole_holds_back_what_follows_it():
    # 12 may commit later: reading 13 now and moving the cursor past 12 would lose it.
    assert [e.id for e in _readable(events((11, 0), (13, 0), (14, 0)), 10, NOW)] == [11]
    assert _readable(events((12, 1)), 10, NOW) == []


def test_a_hole_older_than_the_settle_time_is_a_rollback_and_skipped():
    assert [e.id for e in _readable(events((13, 6), (14, 0), (16, 0)), 10, NOW)] == [13, 14]
