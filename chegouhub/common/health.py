"""Readiness checks: the database here; each app registers its own (AppConfig.ready()), so `common`
knows no domain app."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection

_checks: dict[str, Callable[[], bool]] = {}


def register_readiness_check(name: str, check: Callable[[], bool]) -> None:
    _checks[name] = check


def database_available() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def readiness() -> dict[str, bool]:
    results = {"database": database_available()}
    for name, check in _checks.items():
        try:
            results[name] = bool(check())
        except Exception:
            results[name] = False
    return results
