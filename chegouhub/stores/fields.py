"""Shopify credentials encrypted at rest (Fernet, keys from settings, rotatable).

The first key encrypts; every key decrypts (cryptography's MultiFernet), as Django's
`SECRET_KEY_FALLBACKS` does for signatures: `FIELD_ENCRYPTION_KEY` then
`FIELD_ENCRYPTION_KEY_FALLBACKS`, then keys derived from `SECRET_KEY` and each of
`SECRET_KEY_FALLBACKS` (the only keys when `FIELD_ENCRYPTION_KEY` is unset; still readable after it
is set, so adopting a key of its own strands nothing). `manage.py rotate_credentials` re-encrypts
every value with the first key, after which old keys may be dropped.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver
from rest_framework import status
from rest_framework.exceptions import APIException

from chegouhub.common.logging import register_secret

KEY_SETTINGS = ("FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEY_FALLBACKS", "SECRET_KEY", "SECRET_KEY_FALLBACKS")


class UndecryptableCredential(APIException):
    """A stored credential that no configured key opens (a key was rotated without keeping the old
    one in a fallback list). An API request answers 503 with this; nothing is written over it."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = ("Uma credencial da Shopify guardada não abre com as chaves configuradas "
                      "(FIELD_ENCRYPTION_KEY / DJANGO_SECRET_KEY e suas listas _FALLBACKS).")
    default_code = "credencial_ilegivel"


def _derived_key(secret_key: str) -> bytes:
    # Derived, not reused: the session-signing key never encrypts data directly.
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"chegouhub-fields", info=b"fernet").derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


def encryption_keys() -> list[bytes]:
    """Every configured key, the one that encrypts first."""
    explicit = [settings.FIELD_ENCRYPTION_KEY, *getattr(settings, "FIELD_ENCRYPTION_KEY_FALLBACKS", [])]
    derived = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    keys = [key.encode() for key in explicit if key] + [_derived_key(key) for key in derived if key]
    return list(dict.fromkeys(keys))


@functools.cache
def fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in encryption_keys()])


@functools.cache
def primary_fernet() -> Fernet:
    return Fernet(encryption_keys()[0])


@receiver(setting_changed)
def _keys_changed(*, setting, **kwargs):
    if setting in KEY_SETTINGS:
        fernet.cache_clear()
        primary_fernet.cache_clear()


UNSENDABLE_TOKEN = ("O access_token guardado desta loja tem caracteres que não podem ir à Shopify (só ASCII "
                    "visível); cadastre-o de novo com PATCH /api/lojas/{id}/.")


def credential_is_sendable(value: str) -> bool:
    """Whether a credential can travel in an HTTP header: printable ASCII. Input is checked by the
    serializers; this guards values stored before that check (one used to make every call a 500)."""
    return all(" " <= ch <= "~" for ch in value)


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext; Python code sees the plain value."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            plain = fernet().decrypt(value.encode()).decode()
        except InvalidToken:
            # No key of the token's bytes rides along (no `from` chain): it must not reach a traceback.
            raise UndecryptableCredential() from None
        register_secret(plain)
        return plain

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        register_secret(value)
        return fernet().encrypt(value.encode()).decode()
