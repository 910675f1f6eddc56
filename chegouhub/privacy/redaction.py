"""What in a Shopify payload is a customer's personal data, and how it is taken out: pure functions.

The stock facts (`ledger.read_facts`: order id, name, line ids, SKUs, quantities, current
quantities, refunds and their restocks, cancellation, money sets) are never touched; `redact_payload`
checks it and refuses to return a payload whose facts differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from chegouhub.shopify import ledger

REDACTED = "[removido]"

# Keys whose whole value is personal data wherever they appear in an order or refund payload.
PERSONAL_KEYS = frozenset({
    "customer", "billing_address", "shipping_address", "destination_location", "email", "contact_email",
    "phone", "first_name", "last_name", "note", "note_attributes", "client_details", "browser_ip",
    "payment_details", "landing_site", "landing_site_ref", "referring_site", "customer_locale", "properties",
    "address1", "address2", "company", "zip", "latitude", "longitude", "device_id", "buyer_accepts_marketing",
    "tracking_number", "tracking_numbers", "tracking_url", "tracking_urls", "receipt", "credit_card_number",
    "credit_card_name", "credit_card_bin", "order_status_url",
})
# `name` is a person's name inside these objects only (elsewhere it is "#1001" or a product's name).
PERSON_OBJECTS = frozenset({"customer", "billing_address", "shipping_address", "destination_location",
                            "default_address", "origin_location"})


@dataclass(frozen=True)
class Customer:
    """Who a compliance request is about (as Shopify names them)."""

    id: int | None
    email: str
    phone: str

    @classmethod
    def from_payload(cls, payload: dict) -> Customer:
        raw = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
        cid = raw.get("id")
        return cls(id=cid if isinstance(cid, int) and not isinstance(cid, bool) else None,
                   email=str(raw.get("email") or "").strip().lower(), phone=str(raw.get("phone") or "").strip())


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def names_customer(payload: dict, customer: Customer) -> bool:
    """Whether a stored payload is about this customer (by Shopify customer id or e-mail)."""
    c = payload.get("customer")
    if isinstance(c, dict):
        if customer.id is not None and c.get("id") == customer.id:
            return True
        if customer.email and str(c.get("email") or "").strip().lower() == customer.email:
            return True
    for key in ("email", "contact_email"):
        if customer.email and str(payload.get(key) or "").strip().lower() == customer.email:
            return True
    return False


def personal_fields(payload, path: str = "") -> Iterator[str]:
    """Dotted paths (list positions as []) of the personal data a payload holds, values never read out."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            here = f"{path}.{key}" if path else key
            if key in PERSONAL_KEYS or (key == "name" and path.split(".")[-1].rstrip("[]") in PERSON_OBJECTS):
                if _holds_data(value):
                    if isinstance(value, dict):
                        yield from (f"{here}.{k}" for k, v in value.items() if _holds_data(v) and v != REDACTED)
                    elif value != REDACTED:
                        yield here
                continue
            yield from personal_fields(value, here)
    elif isinstance(payload, list):
        for item in payload:
            yield from personal_fields(item, f"{path}[]")


def _holds_data(value) -> bool:
    return value not in (None, "", [], {}, False)


def _scrub(value, parent: str, customer: Customer | None):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in PERSONAL_KEYS or (key == "name" and parent in PERSON_OBJECTS):
                out[key] = REDACTED if _holds_data(item) else item
            else:
                out[key] = _scrub(item, key, customer)
        return out
    if isinstance(value, list):
        return [_scrub(item, parent, customer) for item in value]
    if isinstance(value, str) and customer is not None and _mentions(value, customer):
        return REDACTED  # the customer's e-mail or phone anywhere else (a tag, a custom field)
    return value


def _mentions(text: str, customer: Customer) -> bool:
    if customer.email and customer.email in text.lower():
        return True
    phone = _digits(customer.phone)
    return len(phone) >= 8 and phone in _digits(text)


class RedactionChangedFacts(RuntimeError):
    """Never expected: the redacted payload would settle differently from the original."""


def redact_payload(topic: str, payload: dict, customer: Customer | None = None) -> dict:
    """The payload without its personal data; its stock facts (and values) exactly as before."""
    redacted = _scrub(payload, "", customer)
    if topic in ("orders/paid", "orders/cancelled", "refunds/create"):
        try:
            before = ledger.read_facts(topic, payload)
        except ledger.UnreadableOrder:
            return redacted  # settles nothing either way
        if ledger.read_facts(topic, redacted) != before:
            raise RedactionChangedFacts(topic)
    return redacted
