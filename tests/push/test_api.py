"""CONTRACT section 11: the public key and the inscrições API, over HTTP."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.push.conftest import VAPID_PUBLIC

pytestmark = pytest.mark.django_db


def body(browser, **extra):
    return {**browser.subscription(), **extra}


def test_public_key_is_the_configured_raw_key(client):
    r = client.get("/api/push/chave-publica/")
    assert r.status_code == 200
    assert r.json() == {"chave": VAPID_PUBLIC}


def test_public_key_unconfigured_answers_404_in_portuguese(client, settings):
    settings.VAPID_PRIVATE_KEY = ""
    r = client.get("/api/push/chave-publica/")
    assert r.status_code == 404
    assert "VAPID" in r.json()["erro"]


def test_a_pem_private_key_gives_the_same_public_key(client, settings):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from chegouhub.push.vapid import b64url, raw_public_key

    key = ec.generate_private_key(ec.SECP256R1())
    settings.VAPID_PRIVATE_KEY = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()).decode()
    settings.VAPID_PUBLIC_KEY = ""
    assert client.get("/api/push/chave-publica/").json() == {"chave": b64url(raw_public_key(key))}


def test_subscribe_list_and_delete_own(api, loja, browser_sub):
    r = api.post("/api/push/inscricoes/", body(browser_sub, lojas=[loja.pk]), format="json")
    assert r.status_code == 201, r.content
    created = r.json()
    assert created["lojas"] == [loja.pk]
    assert created["tipos"] == ["produto_estoque_zero", "alerta_estoque_gerado", "webhook_status_change"]
    assert "keys" not in created and browser_sub.auth_b64 not in r.content.decode()

    listed = api.get("/api/push/inscricoes/").json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == created["id"]
    assert browser_sub.auth_b64 not in str(listed)

    # The same browser again (a page reload re-sends it): updated, not duplicated.
    again = api.post("/api/push/inscricoes/", body(browser_sub, tipos=["produto_estoque_zero"]), format="json")
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    assert again.json()["tipos"] == ["produto_estoque_zero"] and again.json()["lojas"] == []

    assert api.delete(f"/api/push/inscricoes/{created['id']}/").status_code == 204
    assert api.get("/api/push/inscricoes/").json()["count"] == 0


def test_another_users_inscricao_is_404_and_not_listed(api, other_user, push_service):
    theirs = APIClient()
    theirs.force_authenticate(other_user)
    r = theirs.post("/api/push/inscricoes/", body(push_service.new_browser()), format="json")
    assert r.status_code == 201
    assert api.get("/api/push/inscricoes/").json()["count"] == 0
    assert api.delete(f"/api/push/inscricoes/{r.json()['id']}/").status_code == 404
    assert api.get(f"/api/push/inscricoes/{r.json()['id']}/").status_code == 404
    assert api.get("/api/push/inscricoes/abc/").status_code == 404
    assert api.delete(f"/api/push/inscricoes/{2**70}/").status_code == 404
    assert theirs.get("/api/push/inscricoes/").json()["count"] == 1


def test_a_browser_taken_over_by_another_user_stops_notifying_the_first(api, other_user, browser_sub):
    assert api.post("/api/push/inscricoes/", body(browser_sub), format="json").status_code == 201
    theirs = APIClient()
    theirs.force_authenticate(other_user)
    assert theirs.post("/api/push/inscricoes/", body(browser_sub), format="json").status_code == 201
    assert api.get("/api/push/inscricoes/").json()["count"] == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"lojas": "other"}, "lojas"),
        ({"tipos": ["venda_shopify_processada"]}, "tipos"),
        ({"endpoint": "https://"}, "endpoint"),
        ({"endpoint": "http://push.example.com/abc"}, "endpoint"),
        ({"endpoint": "ftp://push.example.com/abc"}, "endpoint"),
        ({"keys": {"p256dh": "bm90LWEta2V5", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys"),
        ({"keys": {"p256dh": None, "auth": "curto"}}, "keys"),
        ({"keys": None}, "keys"),
    ],
)
def test_validation_errors_name_the_field(api, other_user, make_loja, browser_sub, change, field):
    data = body(browser_sub)
    if change.get("lojas") == "other":
        change = {"lojas": [make_loja(other_user).pk]}
    data.update(change)
    r = api.post("/api/push/inscricoes/", data, format="json")
    assert r.status_code == 400, r.content
    assert field in r.json()["campos"], r.json()
    assert browser_sub.auth_b64 not in r.content.decode()


def test_http_endpoints_are_refused_outside_debug(api, settings, browser_sub):
    settings.PUSH_ALLOW_HTTP_LOOPBACK = False
    r = api.post("/api/push/inscricoes/", body(browser_sub), format="json")
    assert r.status_code == 400
    assert "https://" in str(r.json()["campos"]["endpoint"])


def test_anonymous_cannot_subscribe(client, browser_sub):
    r = client.post("/api/push/inscricoes/", body(browser_sub), content_type="application/json")
    assert r.status_code in (401, 403)
