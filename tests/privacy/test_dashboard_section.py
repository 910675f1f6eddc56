"""The dashboard lists the loja's privacy requests and what each did (never the customer's data)."""

from __future__ import annotations

from .conftest import CANARIES, CANARY_EMAIL, CANARY_PHONE, CUSTOMER_ID, customer_order, run_worker


def test_the_dashboard_shows_a_redaction_done(client, user, loja, make_produto, post_webhook, other_user):
    make_produto(loja, "CAMISA")
    post_webhook(loja, "orders/paid", customer_order(1001, [(11, "CAMISA", 1)]))
    post_webhook(loja, "customers/redact", {"shop_id": 1, "shop_domain": loja.shop_domain, "orders_to_redact": [1001],
                                            "customer": {"id": CUSTOMER_ID, "email": CANARY_EMAIL,
                                                         "phone": CANARY_PHONE}})
    client.force_login(user)
    page = client.get("/privacidade/").content.decode()
    assert 'id="t-privacidade"' in page and "Apagar cliente (customers/redact)" in page and "Na fila" in page
    run_worker()
    page = client.get("/privacidade/").content.decode()
    assert "1 cópia(s) redigida(s); pedidos 1001." in page
    # A data request's report is shown too: what is held, by field name only (issue 20's "done when").
    post_webhook(loja, "orders/paid", customer_order(1002, [(12, "CAMISA", 1)]))
    post_webhook(loja, "customers/data_request", {"shop_id": 1, "shop_domain": loja.shop_domain,
                                                  "orders_requested": [1002], "data_request": {"id": 55},
                                                  "customer": {"id": CUSTOMER_ID, "email": CANARY_EMAIL,
                                                               "phone": CANARY_PHONE}})
    run_worker()
    page = client.get("/privacidade/").content.decode()
    assert "Dados do cliente (customers/data_request)" in page
    assert "1 entrega(s) guardada(s) com dados pessoais (" in page and "billing_address.name" in page, page[-3000:]
    assert all(canary not in page for canary in CANARIES)
    assert "privacidade.js" in page and client.get("/painel/static/privacidade.js").status_code == 200

    client.force_login(other_user)
    assert "Apagar cliente" not in client.get("/privacidade/").content.decode()
