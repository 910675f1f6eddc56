"""Input the database cannot hold, refused as a 400 naming the field (CONTRACT section 8).

PostgreSQL refuses NUL in text and integers beyond a column's range; both used to surface as a
database error (503). Validated here first, so the database only ever sees what it can store.
"""

from __future__ import annotations

import re

from django.db import connection
from rest_framework import serializers

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# C0 controls and DEL; tab, newline and carriage return are allowed only where text is free.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BUT_WHITESPACE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

CONTROL_MESSAGE = "Não pode conter caracteres de controle (como NUL)."


def has_control_characters(value: str, *, allow_whitespace: bool = False) -> bool:
    return bool((_CONTROL_BUT_WHITESPACE if allow_whitespace else _CONTROL).search(value))


def no_control_characters(value: str) -> None:
    """Validator for names, SKUs, usernames: no control character at all."""
    if isinstance(value, str) and has_control_characters(value):
        raise serializers.ValidationError(CONTROL_MESSAGE)


def no_control_characters_but_whitespace(value: str) -> None:
    """Validator for free text (a movement's motivo): line breaks and tabs are fine, NUL is not."""
    if isinstance(value, str) and has_control_characters(value, allow_whitespace=True):
        raise serializers.ValidationError(CONTROL_MESSAGE)


def column_range(model, field_name: str) -> tuple[int, int]:
    """The integers a model's column can hold on this database (64-bit where the backend says none)."""
    field = model._meta.get_field(field_name)
    low, high = connection.ops.integer_field_range(field.get_internal_type())
    return (INT64_MIN if low is None else max(low, INT64_MIN)), (INT64_MAX if high is None else min(high, INT64_MAX))


def range_message(low: int, high: int) -> str:
    return f"Deve estar entre {low} e {high}."
