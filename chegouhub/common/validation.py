"""Input the database cannot hold, refused as a 400 naming the field (CONTRACT section 8).

PostgreSQL refuses NUL in text and integers beyond a column's range; both used to surface as a
database error (503). Validated here first, so the database only ever sees what it can store.
"""

from __future__ import annotations

import re

from django.db.backends.base.operations import BaseDatabaseOperations
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
    """The integers a model's integer column holds, by its field type (IntegerField: 32 bits,
    BigIntegerField: 64), the same on every database: SQLite would store more than PostgreSQL,
    and the API must not answer differently on the two. Follows a migration of the column."""
    internal_type = model._meta.get_field(field_name).get_internal_type()
    low, high = BaseDatabaseOperations.integer_field_ranges.get(internal_type, (INT64_MIN, INT64_MAX))
    return max(low, INT64_MIN), min(high, INT64_MAX)


class ColumnIntegerField(serializers.IntegerField):
    """An integer bounded by a model column's range (400 naming the field, never a database error)."""

    def __init__(self, *, model, column: str, min_value: int | None = None, max_value: int | None = None, **kwargs):
        low, high = column_range(model, column)
        kwargs["min_value"] = low if min_value is None else max(min_value, low)
        kwargs["max_value"] = high if max_value is None else min(max_value, high)
        super().__init__(**kwargs)


def range_message(low: int, high: int) -> str:
    return f"Deve estar entre {low} e {high}."
