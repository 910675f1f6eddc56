"""Re-encrypting every credential with the current key (`manage.py rotate_credentials`).

After a key change the old key stays in a fallback list (fields.py) so every credential still
opens; this rewrites each one under the first key, after which the fallback can be dropped. The
fields are found by type over every installed model, so a credential field added later is covered.
Ciphertext is read and written as stored (raw SQL): the plain values never pass through Python
objects that might log them, and a value changed meanwhile by a save is left as that save wrote it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken
from django.apps import apps
from django.db import connection, models, transaction

from .fields import EncryptedTextField, fernet, primary_fernet


@dataclass
class FieldRotation:
    label: str  # app_label.Model.field
    total: int = 0
    rotated: int = 0
    current: int = 0  # already under the first key
    unreadable: list = field(default_factory=list)  # primary keys of values no configured key opens


def encrypted_fields() -> Iterator[tuple[type[models.Model], EncryptedTextField]]:
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for f in model._meta.concrete_fields:
            if isinstance(f, EncryptedTextField):
                yield model, f


def rotate_credentials(*, dry_run: bool = False, batch_size: int = 500,
                       on_progress: Callable[[FieldRotation], None] | None = None) -> list[FieldRotation]:
    """Every stored credential re-encrypted with the first configured key. Idempotent: a value
    already under it is left alone."""
    return [_rotate_field(model, f, dry_run=dry_run, batch_size=batch_size, on_progress=on_progress)
            for model, f in encrypted_fields()]


def _rotate_field(model, f, *, dry_run, batch_size, on_progress) -> FieldRotation:
    q = connection.ops.quote_name
    table, column, pk = q(model._meta.db_table), q(f.column), q(model._meta.pk.column)
    report = FieldRotation(label=f"{model._meta.label}.{f.name}")
    present = f"{column} IS NOT NULL AND {column} <> ''"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {present}")
        report.total = cursor.fetchone()[0]
    if on_progress:
        on_progress(report)
    last = None
    while True:
        after, params = (f" AND {pk} > %s", [last]) if last is not None else ("", [])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {present}{after} ORDER BY {pk} LIMIT %s",
                           [*params, batch_size])
            rows = cursor.fetchall()
        if not rows:
            return report
        for row_pk, token in rows:
            _rotate_value(table, column, pk, row_pk, token, report, dry_run=dry_run)
        last = rows[-1][0]
        if on_progress:
            on_progress(report)


def _rotate_value(table, column, pk, row_pk, token: str, report: FieldRotation, *, dry_run: bool) -> None:
    try:
        primary_fernet().decrypt(token.encode())
        report.current += 1
        return
    except InvalidToken:
        pass
    try:
        new = fernet().rotate(token.encode()).decode()
    except InvalidToken:
        report.unreadable.append(row_pk)
        return
    if not dry_run:
        with transaction.atomic(), connection.cursor() as cursor:
            # Only if unchanged since read: a concurrent save already wrote it under the first key.
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s AND {column} = %s",
                           [new, row_pk, token])
    report.rotated += 1
