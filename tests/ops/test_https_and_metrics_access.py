"""HTTPS settings from the environment and /metrics behind its token (CONTRACT section 8,
issue 15 items 8 and 9)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from tests.live import ROOT

PRODUCTION_HTTPS = {
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "SECURE_SSL_REDIRECT": "true",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}
PASSWORD = "senha-forte-123"


def _check_deploy(extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "SESSION_", "CSRF_"))}
    env.update(DJANGO_SECRET_KEY="a-long-random-production-key-" + "x7Qp2vR9sT4wZ1yB6nM3kL8jH5gF0dS" * 2,
               DJANGO_DEBUG="false", ALLOWED_HOSTS="sync.exemplo.com.br", **extra)
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.postgres  # independent of the database: once is enough
def test_check_deploy_has_no_warning_with_the_documented_https_variables():
    result = _check_deploy(PRODUCTION_HTTPS)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output
    assert "WARNINGS" not in output


@pytest.mark.postgres
def test_without_them_check_deploy_names_what_is_missing():
    output = _check_deploy({}).stderr
    for code in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert code in output, output


@pytest.mark.postgres
def test_a_malformed_proxy_header_refuses_to_start():
    result = _check_deploy({**PRODUCTION_HTTPS, "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto"})
    assert result.returncode != 0 and "SECURE_PROXY_SSL_HEADER" in result.stderr


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(90)
def test_behind_an_https_proxy_the_server_redirects_sets_hsts_and_secure_cookies(live_server_factory, make_user):
    make_user("ana")
    srv = live_server_factory(env=PRODUCTION_HTTPS)
    plain = httpx.get(f"{srv.url}/", follow_redirects=False)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
    assert httpx.get(f"{srv.url}/healthz").status_code == 200  # the load balancer's checks stay plain http
    proxied = {"X-Forwarded-Proto": "https"}
    page = httpx.get(f"{srv.url}/", headers=proxied)
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    login = httpx.post(f"{srv.url}/api/auth/login/", json={"username": "ana", "password": PASSWORD}, headers=proxied)
    assert login.status_code == 200, login.text
    cookies = login.headers.get_list("set-cookie")
    for name in ("sessionid", "csrftoken"):
        (cookie,) = [c for c in cookies if c.startswith(f"{name}=")]
        assert "Secure" in cookie, cookie


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(120)
def test_metrics_need_their_token_unless_debug(live_server_factory):
    closed = live_server_factory()  # production, no METRICS_TOKEN
    r = httpx.get(f"{closed.url}/metrics")
    assert r.status_code == 403 and "METRICS_TOKEN" in r.json()["erro"]
    assert "chegouhub_" not in r.text

    guarded = live_server_factory(env={"METRICS_TOKEN": "s3gredo-metricas"})
    assert httpx.get(f"{guarded.url}/metrics").status_code == 401
    assert httpx.get(f"{guarded.url}/metrics", headers={"Authorization": "Bearer errado"}).status_code == 401
    ok = httpx.get(f"{guarded.url}/metrics", headers={"Authorization": "Bearer s3gredo-metricas"})
    assert ok.status_code == 200 and "chegouhub_" in ok.text

    debug = live_server_factory(env={"DJANGO_DEBUG": "true"})
    assert httpx.get(f"{debug.url}/metrics").status_code == 200
