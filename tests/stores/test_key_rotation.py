"""Rotating the keys that encrypt the Shopify credentials (issue 26 item 9), against real server
processes: an old key kept in a fallback list still opens every credential, `rotate_credentials`
moves them all to the new key, and a credential no key opens answers 503, logged once per loja."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from chegouhub.devtools.payloads import encode, order_payload, signed_headers
from tests import live
from tests.live import ROOT

pytestmark = [pytest.mark.live]

NEW_KEY = "a-brand-new-secret-key-after-the-leak-0123456789"


def _deliver(server, loja, topic: str = "orders/paid", order_id: int = 1):
    body = encode(order_payload(order_id, [(order_id * 10, "CAMISA", 1)]))
    headers = signed_headers(body=body, secret=loja.webhook_secret, shop_domain=loja.shop_domain, topic=topic)
    return httpx.post(f"{server.url}/api/estoque/webhook/shopify/", content=body, headers=headers, timeout=15)


def _stored(loja) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, webhook_secret FROM stores_loja WHERE id = %s", [loja.pk])
        return cursor.fetchone()


def _rotate(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "rotate_credentials"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env)


def test_a_rotated_secret_key_keeps_webhooks_working_and_the_command_retires_the_old_one(
        live_server_factory, make_user, make_loja, make_produto):
    old_key = settings.SECRET_KEY  # the credentials below are encrypted with a key derived from it
    loja = make_loja(make_user())
    make_produto(loja, "CAMISA", estoque=10)
    before = _stored(loja)

    rotated = live_server_factory(env={"DJANGO_SECRET_KEY": NEW_KEY, "DJANGO_SECRET_KEY_FALLBACKS": old_key})
    for order_id, topic in ((1, "orders/paid"), (2, "orders/cancelled")):  # the lean route, and Django's
        r = _deliver(rotated, loja, topic, order_id)
        assert r.status_code == 200, r.text
    assert loja.produtos.get().estoque_atual == 9
    rotated.stop()

    env = dict(rotated.env)
    result = _rotate(env)
    assert result.returncode == 0, result.stderr
    assert "stores.Loja.access_token" in result.stdout and "stores.Loja.webhook_secret" in result.stdout
    after = _stored(loja)
    assert after[0] != before[0] and after[1] != before[1]
    assert loja.access_token not in result.stdout + result.stderr
    again = _rotate(env)  # idempotent: nothing left to move, nothing rewritten
    assert again.returncode == 0, again.stderr
    assert _stored(loja) == after

    # The old key can go now.
    new_only = live_server_factory(env={"DJANGO_SECRET_KEY": NEW_KEY, "DJANGO_SECRET_KEY_FALLBACKS": ""})
    r = _deliver(new_only, loja, "orders/paid", 3)
    assert r.status_code == 200 and r.json() == {"status": "processed"}
    assert loja.produtos.get().estoque_atual == 8


def test_the_rotation_command_reports_what_no_key_opens(transactional_db, make_user, make_loja):
    loja = make_loja(make_user())
    before = _stored(loja)
    # The old key forgotten instead of kept as a fallback.
    result = _rotate({**os.environ, "DATABASE_URL": live.test_database_url(), "DJANGO_SECRET_KEY": NEW_KEY})
    assert result.returncode != 0
    assert f"stores.Loja.webhook_secret ids {loja.pk}" in result.stderr
    assert _stored(loja) == before  # left as it was, for the day the old key is found


def test_a_credential_no_key_opens_answers_503_logged_once_per_loja(live_server_factory, make_user, make_loja,
                                                                    tmp_path):
    lojas = [make_loja(make_user()), make_loja(make_user())]
    server = live_server_factory(env={"DJANGO_SECRET_KEY": NEW_KEY}, log_dir=tmp_path)
    for n in range(3):
        for loja in lojas:
            for topic in ("orders/paid", "orders/cancelled"):
                r = _deliver(server, loja, topic, 100 + n)
                assert r.status_code == 503, r.text
                assert "chaves de criptografia" in r.json()["erro"]
    # The API answers the same for a loja it cannot read, instead of a 500.
    token = Token.objects.create(user=lojas[0].owner).key
    r = httpx.get(f"{server.url}/api/lojas/", headers={"Authorization": f"Token {token}"}, timeout=15)
    assert r.status_code == 503 and "não abre com as chaves" in r.json()["erro"], r.text
    server.stop()
    lines = [json.loads(line) for line in (tmp_path / "webhook.log").read_text().splitlines()]
    reports = [line for line in lines if "cannot be decrypted" in line["message"]]
    assert sorted(line["loja_id"] for line in reports) == sorted(loja.pk for loja in lojas)
    text = (tmp_path / "webhook.log").read_text()
    assert all(loja.webhook_secret not in text for loja in lojas)
    assert not any(line.get("status") == 503 or "rejected" in line["message"] for line in lines)
