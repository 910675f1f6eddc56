"""Shopify credentials encrypted at rest (Fernet, key from settings)."""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

from chegouhub.common.logging import register_secret


@functools.cache
def _fernet() -> Fernet:
    if settings.FIELD_ENCRYPTION_KEY:
        return Fernet(settings.FIELD_ENCRYPTION_KEY.encode())
    # Derived, not reused: the session-signing key never encrypts data directly.
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"chegouhub-fields", info=b"fernet").derive(
        settings.SECRET_KEY.encode()
    )
    return Fernet(base64.urlsafe_b64encode(raw))


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext; Python code sees the plain value."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            plain = _fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            # `from None`: the token's bytes must not ride along in a traceback.
            raise ValueError("Encrypted credential cannot be decrypted with the configured key.") from None
        register_secret(plain)
        return plain

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        register_secret(value)
        return _fernet().encrypt(value.encode()).decode()
