"""Shopify Admin API versions (CONTRACT section 8): `unstable`, or `YYYY-MM` with a release month.

Pure (no Django import): settings.py checks SHOPIFY_API_VERSION with it at startup.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

API_VERSION_RE = re.compile(r"\A(?:unstable|20\d\d-(?:01|04|07|10))\Z")
API_VERSION_MESSAGE = "Versão da API inválida: use unstable ou AAAA-MM com mês 01, 04, 07 ou 10 (ex.: 2026-10)."


def is_valid_api_version(value: str) -> bool:
    return isinstance(value, str) and bool(API_VERSION_RE.match(value))


SUPPORT_MONTHS = 12  # Shopify supports each stable version for twelve months after its release


def supported_until(value: str) -> date | None:
    """The first day Shopify no longer supports `value` (None: `unstable`, which has no end)."""
    if value == "unstable" or not is_valid_api_version(value):
        return None
    year, month = int(value[:4]), int(value[5:7])
    return date(year + SUPPORT_MONTHS // 12, month, 1)


def is_supported_api_version(value: str, today: date | None = None) -> bool:
    """False for a version released more than twelve months before `today` (UTC)."""
    until = supported_until(value)
    today = today or datetime.now(UTC).date()
    return until is None or today < until
