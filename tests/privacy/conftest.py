from __future__ import annotations

import pytest
from django.core.management import call_command

from chegouhub.devtools.payloads import order_payload, refund_payload

CANARY_EMAIL = "canario.privado@example.org"
CANARY_PHONE = "+5511987654321"
CANARY_STREET = "Rua do Canário Secreto 1234"
CANARY_NAME = "Zuleika"
CANARIES = (CANARY_EMAIL, CANARY_PHONE, CANARY_STREET, CANARY_NAME)
CUSTOMER_ID = 7770001


def customer_order(order_id: int, lines, *, customer_id: int = CUSTOMER_ID, email: str = CANARY_EMAIL,
                   phone: str = CANARY_PHONE, street: str = CANARY_STREET, name: str = CANARY_NAME, **kw) -> dict:
    """A paid order whose customer data are canaries (easy to look for anywhere)."""
    order = order_payload(order_id, lines, total=("150.00", "BRL"), **kw)
    address = {"first_name": name, "last_name": "Canário", "name": f"{name} Canário", "address1": street,
               "phone": phone, "city": "São Paulo", "zip": "01000-000", "country": "Brazil", "company": None}
    order.update(email=email, contact_email=email, phone=phone, note=f"entregar a {name}",
                 billing_address=dict(address), shipping_address=dict(address),
                 browser_ip="203.0.113.7", client_details={"browser_ip": "203.0.113.7", "user_agent": "Mozilla"},
                 note_attributes=[{"name": "presente", "value": f"para {name}"}])
    order["customer"] = {"id": customer_id, "email": email, "phone": phone, "first_name": name,
                         "last_name": "Canário", "default_address": dict(address)}
    return order


def customer_refund(refund_id: int, order_id: int, lines) -> dict:
    return refund_payload(refund_id, order_id, lines, amount=("50.00", "BRL"))


def run_worker() -> None:
    call_command("process_webhooks", "--once", "--no-alerts")


@pytest.fixture
def worker():
    return run_worker
