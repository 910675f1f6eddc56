"""JSON-lines log hygiene: secrets and customers' personal data never reach a log line.

Two nets: structured fields whose *key* names something sensitive are replaced, and the
rendered message is scrubbed of every secret value this process has decrypted plus
anything shaped like an e-mail, a phone number or a session key.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading

from pythonjsonlogger.orjson import OrjsonFormatter

REDACTED = "[redacted]"

SENSITIVE_KEY = re.compile(
    r"(token|secret|hmac|password|passwd|session|cookie|authorization|email|e_mail|phone|address|"
    r"customer|first_name|last_name|billing|shipping_address|signature|api_key)",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PHONE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
SESSION_KV = re.compile(r"(session_key|sessionid|token|hmac)=([^&\s\"']+)", re.IGNORECASE)
# Fields that hold our own or Shopify's identifiers and SKUs (often EAN-13 barcodes): long digit runs
# there are not phone numbers, and redacting them left stock lines impossible to tie to an order.
# Secrets, e-mails and session keys are still scrubbed from them.
IDENTIFIER_KEYS = frozenset({"referencia", "sku", "shopify_sku", "order_id", "webhook_id", "event_id"})
IDENTIFIER_SHAPE = re.compile(r"[\w.:/-]{1,128}")  # no spaces, parentheses or "+": not a formatted phone
# What any of the three above needs to match: most log text has none of it, so one search spares
# the three substitutions (the log path runs several times per webhook).
SUSPECT = re.compile(r"[@=]|\d[\d\s().-]{7,}\d")

_known_secrets: set[str] = set()
_lock = threading.Lock()

_STD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def register_secret(value: str | None) -> None:
    """Remember a secret value so any log line that contains it is scrubbed."""
    if value and len(value) >= 6:
        with _lock:
            _known_secrets.add(value)


def scrub_text(text: str, phones: bool = True) -> str:
    for secret in list(_known_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    if not SUSPECT.search(text):
        return text
    text = SESSION_KV.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = EMAIL.sub(REDACTED, text)
    return PHONE.sub(REDACTED, text) if phones else text


@functools.lru_cache(maxsize=4096)
def sensitive_key(key: str) -> bool:
    return SENSITIVE_KEY.search(key) is not None


def scrub_value(key: str, value):
    if sensitive_key(key):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value, phones=key not in IDENTIFIER_KEYS or not IDENTIFIER_SHAPE.fullmatch(value))
    if isinstance(value, dict):
        return {k: scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_value(key, v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = scrub_text(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STD_ATTRS:
                setattr(record, key, scrub_value(key, value))
        if record.exc_info and record.exc_info[1] is not None:
            # Exception text may quote a payload; keep the type, scrub the text.
            record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class NotRefusedByLimit(logging.Filter):
    """Drops Django's "Too Many Requests" line (django.request logs every 4xx): a request refused
    by a limit writes nothing, or a flood would fill the disk line by line (CONTRACT section 8).
    Each limit says once, in its own log, when it starts refusing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "status_code", None) != 429


class JsonLinesFormatter(OrjsonFormatter):
    """python-json-logger's orjson formatter (compact lines, 2.5 times faster than its json one),
    with json's reach: orjson refuses integers beyond 64 bits and lone surrogates, and a refused
    record would be lost."""

    def jsonify_log_record(self, log_data) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except TypeError:
            return json.dumps(log_data, default=str)


estoque_log = logging.getLogger("chegouhub.estoque")
webhook_log = logging.getLogger("chegouhub.webhook")
channels_log = logging.getLogger("chegouhub.channels")
