"""The lean webhook route (PostgreSQL): route.py (the ASGI handler), batch.py (transactions of
set-based SQL), pool.py (connections per event loop). It decides nothing of its own: verification.py
and ledger.py do, as on the Django path."""

from __future__ import annotations

from .batch import forget_batcher
from .pool import close_pool
from .route import LeanWebhookRoute, enabled

__all__ = ["LeanWebhookRoute", "close_pools", "enabled"]


async def close_pools() -> None:
    """Close this loop's pool and forget its batcher (tests, shutdown)."""
    await close_pool()
    forget_batcher()
