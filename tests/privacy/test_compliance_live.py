"""Over real HTTP against a real server process (on PostgreSQL through the lean route's hand-over):
the compliance webhooks are verified, answered at once, done by the worker and reported."""

from __future__ import annotations

import io

import httpx
import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from chegouhub.devtools.compliance import compliance_payload
from chegouhub.devtools.payloads import encode, signed_headers
from chegouhub.inventory.models import Produto
from chegouhub.shopify.models import WebhookDelivery

from .conftest import CANARIES, CANARY_EMAIL, CANARY_PHONE, CUSTOMER_ID, customer_order, run_worker

pytestmark = [pytest.mark.live]


def _post(server, loja, topic, payload, *, secret=None, webhook_id=None):
    body = encode(payload)
    headers = signed_headers(body=body, secret=secret or loja.webhook_secret, shop_domain=loja.shop_domain,
                             topic=topic, webhook_id=webhook_id)
    return httpx.post(f"{server.url}/api/estoque/webhook/shopify/", content=body, headers=headers, timeout=10)


def test_compliance_webhooks_over_http(live_server_factory, make_user, make_loja, make_produto):
    owner = make_user()
    loja = make_loja(owner)
    make_produto(loja, "CAMISA", estoque=10)
    server = live_server_factory()
    customer = {"id": CUSTOMER_ID, "email": CANARY_EMAIL, "phone": CANARY_PHONE}
    assert _post(server, loja, "orders/paid", customer_order(1001, [(11, "CAMISA", 2)])).json() == {
        "status": "processed"}

    redact = compliance_payload("customers/redact", shop_domain=loja.shop_domain, customer=customer, orders=[1001])
    refused = _post(server, loja, "customers/redact", redact, secret="wrong")
    assert refused.status_code == 401 and refused.json()["erro"]
    answer = _post(server, loja, "customers/redact", redact, webhook_id="redact-http-1")
    assert answer.status_code == 200 and answer.json() == {"status": "processed"}
    # Redelivered: the same webhook id is a duplicate; under a new id it records no second request.
    assert _post(server, loja, "customers/redact", redact, webhook_id="redact-http-1").json() == {
        "status": "duplicate"}
    assert _post(server, loja, "customers/redact", redact, webhook_id="redact-http-2").json() == {
        "status": "processed"}
    assert _post(server, loja, "app/uninstalled", {"id": 1, "domain": loja.shop_domain}).status_code == 200
    assert _post(server, loja, "orders/paid", customer_order(1002, [(12, "CAMISA", 1)])).status_code == 404
    # The simulator sends one too, signed as Shopify does (the sample customer's data request).
    call_command("simulate_shopify", "--loja-id", str(loja.pk), "--compliance", "customers/data_request",
                 "--compliance-orders", "1001", "--target", server.url, stdout=io.StringIO())
    shop = compliance_payload("shop/redact", shop_domain=loja.shop_domain)
    assert _post(server, loja, "shop/redact", shop, secret="wrong").status_code == 401
    assert _post(server, loja, "shop/redact", shop).json() == {"status": "processed"}

    run_worker()

    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Token {Token.objects.create(user=owner).key}"})
    listing = api.get("/api/privacidade/pedidos/")
    assert all(canary not in listing.text for canary in CANARIES)
    assert len(listing.json()["results"]) == 3  # one request a topic, however often delivered
    done = {p["tipo"]: p for p in listing.json()["results"]}
    assert {t: p["status"] for t, p in done.items()} == {"apagar_cliente": "concluido", "apagar_loja": "concluido",
                                                         "dados_cliente": "concluido"}
    assert done["dados_cliente"]["relatorio"]["pedidos_solicitados"] == [1001]
    assert done["apagar_cliente"]["relatorio"]["total_redigidas"] == 1
    assert done["apagar_loja"]["relatorio"]["historico_mantido"] is False
    assert not WebhookDelivery.objects.filter(loja=loja).exists()  # history deleted with it
    assert not Produto.objects.filter(loja=loja).exists()  # manter_historico false: the produtos too
    other = httpx.Client(base_url=server.url,
                         headers={"Authorization": f"Token {Token.objects.create(user=make_user()).key}"})
    assert other.get(f"/api/privacidade/pedidos/{done['apagar_cliente']['id']}/").status_code == 404
