"""Garbage-collector settings for the long-running ASGI processes.

A process holding thousands of sockets has millions of long-lived objects. With Python's default
thresholds (700, 10, 10) a burst of short-lived allocations (one event fanned out to 5,000 sockets)
set off full collections that walked all of them, and the garbage collector took most of the
broadcast's time (docs/benchmark.md). So: what start-up created (modules, classes, URL
patterns, settings) is frozen out of collection, and young collections run less often. Cyclic
garbage is still collected; only its timing changes.
"""

from __future__ import annotations

import gc

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def parse_threshold(value: str) -> tuple[int, int, int] | None:
    if not value.strip():
        return None
    try:
        parts = tuple(int(x) for x in value.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 3 or min(parts) < 1:
        raise ImproperlyConfigured(f"GC_THRESHOLD must be three positive integers like 50000,20,100, not {value!r}")
    return parts


def tune_for_server() -> None:
    """Call once, at the end of the ASGI module's import (after Django's set-up)."""
    threshold = parse_threshold(settings.GC_THRESHOLD)
    if threshold is None:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)
