"""Registration points for apps above shopify (layering: shopify imports none of them).

Background passes run in the webhook worker (`process_webhooks`), after its retries, each at most
every `every_seconds` (0: every pass; the first pass runs them all). A pass returns {name: count}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class BackgroundPass:
    name: str
    run: Callable[[], dict[str, int]]
    every_seconds: float = 0.0


BACKGROUND_PASSES: list[BackgroundPass] = []


def register_background_pass(name: str, run: Callable[[], dict[str, int]], *, every_seconds: float = 0.0) -> None:
    if any(p.name == name for p in BACKGROUND_PASSES):
        return
    BACKGROUND_PASSES.append(BackgroundPass(name=name, run=run, every_seconds=every_seconds))
