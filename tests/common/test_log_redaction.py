"""After a run full of customers' data and credentials, no log file holds any of it."""

from __future__ import annotations

import copy
from pathlib import Path

import httpx

from chegouhub.devtools.payloads import encode, order_payload, signed_headers

CANARIES = {
    "email": "canario.cliente@example.org",
    "phone": "+55 11 98765-4321",
    "address": "Rua do Canário Amarelo 4321",
    "name": "Zefirino Canarinho",
    "secret": "whsec_CANARY_secret_5f1e",
    "token": "shpat_CANARY_token_9a8b",
}


def _customer_order(order_id: int, sku: str) -> dict:
    order = order_payload(order_id, [(1, sku, 1)])
    order["email"] = order["contact_email"] = CANARIES["email"]
    order["phone"] = CANARIES["phone"]
    person = {"first_name": CANARIES["name"].split()[0], "last_name": CANARIES["name"].split()[1],
              "address1": CANARIES["address"], "phone": CANARIES["phone"], "name": CANARIES["name"]}
    order["billing_address"] = order["shipping_address"] = person
    order["customer"] = {"id": 1, "email": CANARIES["email"], "phone": CANARIES["phone"], **person}
    return order


def test_no_secret_or_personal_data_reaches_any_log(live_server_factory, make_user, make_loja, make_produto,
                                                    tmp_path):
    loja = make_loja(make_user("canary-owner", password="canary-password-77"), secret=CANARIES["secret"],
                     token=CANARIES["token"])
    make_produto(loja, "SKU-1", estoque=5, minimo=4)
    log_dir = tmp_path / "logs"
    server = live_server_factory(env={"LOG_DIR": str(log_dir), "LOG_LEVEL": "DEBUG", "ROOT_LOG_LEVEL": "DEBUG"})
    url = f"{server.url}/api/estoque/webhook/shopify/"

    def send(body: bytes, topic="orders/paid", secret=CANARIES["secret"], **extra):
        headers = signed_headers(body=body, secret=secret, shop_domain=loja.shop_domain, topic=topic)
        headers.update(extra)
        return httpx.post(url, content=body, headers=headers, timeout=10)

    ok = _customer_order(1, "SKU-1")
    assert send(encode(ok)).json()["status"] == "processed"  # takes stock, opens an alert
    assert send(encode(ok)).json()["status"] == "processed"  # replay under new ids
    assert send(encode(_customer_order(2, "UNMAPPED"))).status_code == 200
    odd_line = _customer_order(3, "SKU-1")
    odd_line["line_items"][0]["quantity"] = "not-a-number " + CANARIES["email"]
    assert send(encode(odd_line)).json()["status"] == "processed"  # the line set aside, with its reason
    broken = _customer_order(4, "SKU-1")
    broken["id"] = "not-a-number " + CANARIES["email"]
    assert send(encode(broken)).json()["status"] == "accepted"  # processing failed, kept for retry
    assert send(b"{not json " + CANARIES["email"].encode()).status_code == 400
    assert send(encode(ok), secret="wrong-secret").status_code == 401
    assert send(encode(ok), **{"X-Shopify-Hmac-Sha256": "aGVsbG8="}).status_code == 401
    refund = {"id": 77, "order_id": 1, "note": CANARIES["name"], "refund_line_items": [
        {"line_item_id": 1, "quantity": 1, "restock_type": "return", "line_item": copy.deepcopy(ok["customer"])}]}
    assert send(encode(refund), topic="refunds/create").json()["status"] == "processed"
    login = httpx.post(f"{server.url}/api/auth/login/", json={"username": "canary-owner",
                                                              "password": "canary-password-77"})
    session_key = login.json()["session_key"]
    token = httpx.post(f"{server.url}/api/auth/token/", json={"username": "canary-owner",
                                                              "password": "canary-password-77"}).json()["token"]
    httpx.get(f"{server.url}/api/sync-realtime/events/?since=0&session_key={session_key}",
              headers={"Authorization": f"Token {token}"})
    server.stop()

    files = [p for p in log_dir.glob("*.log")] + [server.output_path]
    assert {p.name for p in log_dir.glob("*.log")} >= {"estoque.log", "webhook.log", "channels.log"}
    text = "\n".join(Path(p).read_text(errors="replace") for p in files)
    assert "webhook processed" in text and "stock changed" in text  # the logs did record the run
    leaked = {k: v for k, v in {**CANARIES, "session": session_key, "api_token": token}.items() if v in text}
    assert leaked == {}
    # the raw bodies are kept in the inbox, not in logs
    from chegouhub.shopify.models import WebhookDelivery

    assert WebhookDelivery.objects.filter(status="invalid").count() == 1


def test_a_line_orjson_refuses_is_still_written_in_full():
    """Log lines are encoded with orjson, which refuses integers beyond 64 bits (an order id from
    a misbehaving API, say): such a line is written with json instead of being lost."""
    import json as json_module
    import logging

    from chegouhub.common.logging import webhook_log

    formatter = webhook_log.handlers[0].formatter
    record = webhook_log.makeRecord("chegouhub.webhook", logging.INFO, __file__, 1, "order seen", None, None,
                                    extra={"order_id": 2**70 + 3, "loja_id": 4})
    line = json_module.loads(formatter.format(record))
    assert (line["message"], line["order_id"], line["loja_id"]) == ("order seen", 2**70 + 3, 4)
    normal = webhook_log.makeRecord("chegouhub.webhook", logging.INFO, __file__, 1, "ok", None, None,
                                    extra={"order_id": 5})
    assert formatter.format(normal).startswith('{"ts":')  # the orjson line: compact


def test_order_ids_and_barcode_skus_stay_readable_while_phones_are_redacted():
    """A stock line names its order (`referencia`) and SKUs, often 13-digit barcodes: they are not
    phone numbers and stay in the line, so it can be tied to the order; a phone number elsewhere in
    the same record, or an e-mail inside an identifier field, is still redacted."""
    import json as json_module
    import logging

    from chegouhub.common.logging import RedactingFilter, estoque_log

    record = estoque_log.makeRecord(
        "chegouhub.estoque", logging.INFO, __file__, 1, "stock changed; customer called +55 11 98765-4321",
        None, None, extra={"referencia": "5123456789012", "nota": "ligar 11 98765 4321",
                           "itens": [{"sku": "7891234567895", "produto_id": 3},
                                     {"sku": "ana@example.org", "produto_id": 4},
                                     {"sku": "+55 (11) 98765-4321", "produto_id": 5}]})
    assert RedactingFilter().filter(record)
    line = json_module.loads(estoque_log.handlers[0].formatter.format(record))
    assert line["referencia"] == "5123456789012"
    assert [i["sku"] for i in line["itens"]] == ["7891234567895", "[redacted]", "[redacted]"]
    assert "98765" not in line["message"] and "98765" not in line["nota"]
