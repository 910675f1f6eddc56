"""Login CSRF and the failed-login limit (CONTRACT section 8, issue 15 items 3 and 5)."""

from __future__ import annotations

import httpx
import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

PASSWORD = "senha-forte-123"
EVIL = "https://evil.example"


def _session_cookie(client) -> str | None:
    morsel = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return morsel.value if morsel is not None and morsel.value else None


# --- item 3: login CSRF ---------------------------------------------------------------------


def test_form_post_to_api_login_from_another_origin_is_403_and_logs_nobody_in(user):
    client = Client()
    r = client.post("/api/auth/login/", {"username": "ana", "password": PASSWORD}, HTTP_ORIGIN=EVIL)
    assert r.status_code == 403
    assert r.json()["erro"]
    assert _session_cookie(client) is None
    assert client.get("/api/lojas/").status_code in (401, 403)


def test_json_login_from_another_origin_is_refused_too(user):
    client = APIClient()
    r = client.post("/api/auth/login/", {"username": "ana", "password": PASSWORD}, format="json", HTTP_ORIGIN=EVIL)
    assert r.status_code == 403
    assert _session_cookie(client) is None


def test_api_login_takes_json_only(user):
    client = Client()
    r = client.post("/api/auth/login/", {"username": "ana", "password": PASSWORD})  # form-encoded, no Origin
    assert r.status_code == 415
    assert _session_cookie(client) is None
    r = client.post("/api/auth/login/", '{"username": "ana", "password": "senha-forte-123"}',
                    content_type="text/plain", HTTP_ORIGIN="http://testserver")
    assert r.status_code == 415
    assert _session_cookie(client) is None


def test_json_login_from_own_origin_from_a_cors_frontend_and_without_origin_works(user, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://front.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://front.example"]
    for origin in ("http://testserver", "https://front.example", None):
        client = APIClient()
        extra = {"HTTP_ORIGIN": origin} if origin else {}
        r = client.post("/api/auth/login/", {"username": "ana", "password": PASSWORD}, format="json", **extra)
        assert r.status_code == 200, (origin, r.content)
        assert r.json()["session_key"] == _session_cookie(client)


# --- item 5: failed-login limit -------------------------------------------------------------


def _api_attempt(path: str, username: str, password: str, addr: str):
    return APIClient().post(path, {"username": username, "password": password}, format="json", REMOTE_ADDR=addr)


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/login/"])
def test_api_logins_past_ten_failures_of_a_pair_answer_429_with_retry_after(user, path):
    for i in range(10):
        r = _api_attempt(path, "ana", "errada", "10.0.0.1")
        assert r.status_code == 400, (i, r.content)
    # The 11th attempt from that address, with the right password: refused unread.
    r = _api_attempt(path, "ana", PASSWORD, "10.0.0.1")
    assert r.status_code == 429
    assert int(r["Retry-After"]) == 900
    assert "tentativas" in r.json()["erro"]
    # Another user from that address is not locked by ana's failures, nor ana from another address.
    assert _api_attempt(path, "outra", "errada", "10.0.0.1").status_code == 400
    assert _api_attempt(path, "ana", PASSWORD, "10.0.1.1").status_code == 200


def test_failures_spread_over_addresses_lock_nobody(user):
    for i in range(12):
        assert _api_attempt("/api/auth/token/", "ana", "errada", f"10.0.0.{i + 1}").status_code == 400
    assert _api_attempt("/api/auth/token/", "ana", PASSWORD, "10.0.1.1").status_code == 200


def test_failures_per_address_lock_that_address_past_thirty_whatever_the_username(make_user):
    make_user("carla")
    for i in range(30):
        assert _api_attempt("/api/auth/token/", f"ninguem{i % 3}", "errada", "10.5.5.5").status_code == 400, i
    assert _api_attempt("/api/auth/token/", "carla", PASSWORD, "10.5.5.5").status_code == 429
    assert _api_attempt("/api/auth/token/", "carla", PASSWORD, "10.5.5.6").status_code == 200


def test_dashboard_login_past_ten_failures_shows_a_clear_message_with_429(user):
    for i in range(10):
        r = Client().post("/entrar/", {"username": "ana", "password": "errada"}, REMOTE_ADDR="10.1.0.1")
        assert r.status_code == 400
    client = Client()
    r = client.post("/entrar/", {"username": "ana", "password": PASSWORD}, REMOTE_ADDR="10.1.0.1")
    assert r.status_code == 429
    assert r["Retry-After"] == "900"
    body = r.content.decode()
    assert "Muitas tentativas de login sem sucesso" in body and "15 minutos" in body
    assert _session_cookie(client) is None


def test_admin_login_is_limited_too(make_user):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("chefe", password=PASSWORD)
    for i in range(10):
        r = Client().post("/admin/login/", {"username": "chefe", "password": "errada", "next": "/admin/"},
                          REMOTE_ADDR="10.2.0.1")
        assert r.status_code == 200  # the admin re-renders its form
    r = Client().post("/admin/login/", {"username": "chefe", "password": PASSWORD, "next": "/admin/"},
                      REMOTE_ADDR="10.2.0.1")
    assert r.status_code == 429
    assert r["Retry-After"] == "900"
    r = Client().post("/admin/login/", {"username": "chefe", "password": PASSWORD, "next": "/admin/"},
                      REMOTE_ADDR="10.2.1.1")
    assert r.status_code == 302


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_the_limit_is_shared_by_every_server_process(live_server_factory, make_user):
    make_user("dora")
    a, b = live_server_factory(), live_server_factory()
    for i in range(10):
        server = (a, b)[i % 2]
        r = httpx.post(f"{server.url}/api/auth/token/", json={"username": "dora", "password": "errada"})
        assert r.status_code == 400, r.text
    for server in (a, b):
        r = httpx.post(f"{server.url}/api/auth/token/", json={"username": "dora", "password": PASSWORD})
        assert r.status_code == 429, r.text
        assert r.headers["Retry-After"] == "900"


# --- issue 26 item 3: nobody can lock a merchant out, over real HTTP -------------------------
#
# The server trusts one proxy (API_NUM_PROXIES=1), so X-Forwarded-For is each request's address.


class Door:
    """The three ways a merchant logs in, over real HTTP, each from a given address."""

    def __init__(self, server):
        self.server = server

    def _client(self, addr: str) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"X-Forwarded-For": addr}, timeout=20)

    def api_token(self, username: str, password: str, addr: str) -> httpx.Response:
        with self._client(addr) as c:
            return c.post("/api/auth/token/", json={"username": username, "password": password})

    def api_login(self, username: str, password: str, addr: str) -> httpx.Response:
        with self._client(addr) as c:
            return c.post("/api/auth/login/", json={"username": username, "password": password})

    def entrar(self, username: str, password: str, addr: str) -> httpx.Response:
        with self._client(addr) as c:
            c.get("/")  # the login page hands out the CSRF cookie
            return c.post("/entrar/", data={"username": username, "password": password,
                                            "csrfmiddlewaretoken": c.cookies["csrftoken"]})


DOORS = ("api_token", "api_login", "entrar")
SUCCESS = {"api_token": 200, "api_login": 200, "entrar": 302}
FAILURE = {"api_token": 400, "api_login": 400, "entrar": 400}


def assert_refused(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text[:300]
    assert r.headers["Retry-After"] == "900"


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_ten_failures_for_a_username_from_one_address_do_not_lock_it_from_another(live_server_factory, make_user):
    """The attack of issue 26 item 3: ten wrong passwords for `vitima` from one address, on every
    door; that pair is refused (429, Retry-After), the merchant from their own address logs in."""
    make_user("vitima")
    door = Door(live_server_factory(env={"API_NUM_PROXIES": "1"}))
    attacker, merchant = "203.0.113.7", "198.51.100.20"
    for i in range(10):
        name = DOORS[i % 3]
        r = getattr(door, name)("vitima", "errada", attacker)
        assert r.status_code == FAILURE[name], (i, name, r.status_code)
    for name in DOORS:
        assert_refused(getattr(door, name)("vitima", PASSWORD, attacker))
    for name in DOORS:
        r = getattr(door, name)("vitima", PASSWORD, merchant)
        assert r.status_code == SUCCESS[name], (name, r.status_code, r.text[:300])


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_one_address_is_refused_past_thirty_failures_whatever_the_usernames(live_server_factory, make_user):
    for name in ("u0", "u1", "u2", "carla"):
        make_user(name)
    door = Door(live_server_factory(env={"API_NUM_PROXIES": "1"}))
    spray, other = "203.0.113.9", "198.51.100.30"
    for i in range(29):  # ten or fewer per username: no pair is past its limit
        name = DOORS[i % 3]
        assert getattr(door, name)(f"u{i // 10}", "errada", spray).status_code == FAILURE[name], i
    assert door.api_token("carla", PASSWORD, spray).status_code == 200  # 29: still under the limit
    assert door.entrar("u2", "errada", spray).status_code == 400  # the 30th
    for name in DOORS:
        assert_refused(getattr(door, name)("carla", PASSWORD, spray))
    for name in DOORS:
        assert getattr(door, name)("carla", PASSWORD, other).status_code == SUCCESS[name], name
