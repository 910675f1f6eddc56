"""VAPID keys (RFC 8292): read from settings, generated for the demo, and the signed header per push.

Keys are P-256. `VAPID_PUBLIC_KEY` is the raw uncompressed point (65 bytes) and `VAPID_PRIVATE_KEY`
the raw 32-byte scalar, both base64url without padding, as `web-push generate-vapid-keys` and
`python manage.py generate_vapid_keys` print them; a PEM private key is accepted too. The private
key never leaves this module: nothing logs it and no view returns it.
"""

from __future__ import annotations

import base64
import functools
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from py_vapid import Vapid02

from chegouhub.common.logging import register_secret

# The JWT lives 12 hours: push services refuse more than 24 (RFC 8292 section 2).
JWT_LIFETIME_SECONDS = 12 * 3600


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public_key(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)


def load_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from raw base64url (32 bytes), PEM, or base64 DER."""
    value = value.strip()
    try:
        if "-----BEGIN" in value:
            key = serialization.load_pem_private_key(value.encode(), password=None)
        else:
            raw = b64url_decode(value)
            if len(raw) == 32:
                key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
            else:
                key = serialization.load_der_private_key(raw, password=None)
    except (ValueError, TypeError):
        raise ImproperlyConfigured("VAPID_PRIVATE_KEY is not a P-256 private key (raw base64url or PEM).") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured("VAPID_PRIVATE_KEY must be a P-256 (prime256v1) key.")
    return key


def generate_keys() -> tuple[str, str]:
    """(private, public), raw base64url, ready for VAPID_PRIVATE_KEY / VAPID_PUBLIC_KEY."""
    key = ec.generate_private_key(ec.SECP256R1())
    return b64url(key.private_numbers().private_value.to_bytes(32, "big")), b64url(raw_public_key(key))


@functools.cache
def _keys(private: str, public: str) -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = load_private_key(private)
    derived = b64url(raw_public_key(key))
    # A public key that is not the private key's would make every browser subscription useless.
    if public and b64url(b64url_decode(public)) != derived:
        raise ImproperlyConfigured("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY.")
    register_secret(private)  # scrubbed from any log line, should one ever carry it
    return key, derived


def configured() -> bool:
    return bool(getattr(settings, "VAPID_PRIVATE_KEY", ""))


def _loaded() -> tuple[ec.EllipticCurvePrivateKey, str]:
    if not configured():
        raise ImproperlyConfigured("VAPID_PRIVATE_KEY is not set (python manage.py generate_vapid_keys).")
    return _keys(settings.VAPID_PRIVATE_KEY, getattr(settings, "VAPID_PUBLIC_KEY", ""))


def public_key() -> str:
    """The application server key browsers subscribe with (base64url raw point)."""
    return _loaded()[1]


def authorization_header(endpoint: str) -> str:
    """`vapid t=<JWT>, k=<public key>` for one push service origin (the JWT's audience)."""
    parts = urlsplit(endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + JWT_LIFETIME_SECONDS,
              "sub": settings.VAPID_SUBJECT}
    return Vapid02(private_key=_loaded()[0]).sign(claims)["Authorization"]
