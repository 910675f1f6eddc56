"""Shopify Admin API versions (CONTRACT section 8): `unstable`, or `YYYY-MM` with a release month.

Pure (no Django import): settings.py checks SHOPIFY_API_VERSION with it at startup.
"""

from __future__ import annotations

import re

API_VERSION_RE = re.compile(r"\A(?:unstable|20\d\d-(?:01|04|07|10))\Z")
API_VERSION_MESSAGE = "Versão da API inválida: use unstable ou AAAA-MM com mês 01, 04, 07 ou 10 (ex.: 2025-10)."


def is_valid_api_version(value: str) -> bool:
    return isinstance(value, str) and bool(API_VERSION_RE.match(value))
