"""What reaches Shopify's URLs is checked (CONTRACT section 8, issue 15 item 6): a loja's
`api_version` and SHOPIFY_API_VERSION are `unstable` or `YYYY-MM` with a release month; the
webhook address given to Shopify is an https:// public host name outside debug."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from chegouhub.shopify.admin_api import AdminApiClient
from chegouhub.stores.models import Loja
from tests.devtools.fake_fixtures import register
from tests.live import ROOT


@pytest.mark.parametrize("bad", ["../../../x", "2025-11", "2025-1", "25-10", "2025-10/../x", "latest",
                                 "unstable?x=1", "2025-10\x00"])
def test_a_lojas_api_version_must_be_a_shopify_release(api, loja, bad):
    r = api.patch(f"/api/lojas/{loja.pk}/", {"api_version": bad}, format="json")
    assert r.status_code == 400, r.content
    assert "api_version" in r.json()["campos"]
    loja.refresh_from_db()
    assert loja.api_version == ""


@pytest.mark.parametrize("good", ["2025-10", "2026-01", "unstable", ""])
def test_release_versions_and_empty_are_accepted(api, loja, good):
    r = api.patch(f"/api/lojas/{loja.pk}/", {"api_version": good}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["api_version"] == good


def test_a_stored_bad_version_never_becomes_a_url(loja):
    Loja.objects.filter(pk=loja.pk).update(api_version="../../x")
    with pytest.raises(ValueError, match="Versão da API inválida"):
        AdminApiClient(shop_domain=loja.shop_domain, access_token="t", api_version="../../x")


@pytest.mark.parametrize("value", ["../x", "2025-12", "2025-10 "])
def test_a_bad_shopify_api_version_setting_refuses_to_start(value):
    env = {**os.environ, "DJANGO_SECRET_KEY": "k", "DJANGO_DEBUG": "false", "SHOPIFY_API_VERSION": value}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0
    assert "SHOPIFY_API_VERSION" in result.stderr and "Versão da API inválida" in result.stderr


@pytest.fixture
def production_rule(settings):
    settings.WEBHOOK_ALLOW_INSECURE_URLS = False


REFUSED = ["http://api.exemplo.com", "https://127.0.0.1:8000", "https://localhost", "https://10.0.0.5",
           "https://[::1]", "https://intranet", "https://api.local", "https://x.localhost"]


@pytest.mark.parametrize("bad", REFUSED)
def test_configure_webhooks_api_needs_an_https_public_host_name(api, production_rule, bad):
    for path, body in (("/api/sync-realtime/configure-webhooks/", {"base_domain": bad}),
                       ("/api/sync-realtime/configure-webhook-single/", {"base_domain": bad, "loja_id": 1})):
        r = api.post(path, body, format="json")
        assert r.status_code == 400, r.content
        assert "base_domain" in r.json()["campos"]


def test_a_public_https_base_domain_is_configured(api, production_rule, fake_shopify, user, make_loja):
    loja = make_loja(user)
    register(fake_shopify, [loja])
    r = api.post("/api/sync-realtime/configure-webhooks/", {"base_domain": "https://sync.exemplo.com.br"},
                 format="json")
    assert r.status_code == 200, r.content
    assert r.json()["endereco"] == "https://sync.exemplo.com.br/api/estoque/webhook/shopify/"


def test_plain_http_and_loopback_are_fine_when_allowed(api, fake_shopify, user, make_loja):
    """What the suite and the demo do (DJANGO_DEBUG=true turns the allowance on by default)."""
    loja = make_loja(user)
    register(fake_shopify, [loja])
    r = api.post("/api/sync-realtime/configure-webhooks/", {"base_domain": "http://127.0.0.1:8000"}, format="json")
    assert r.status_code == 200, r.content


@pytest.mark.parametrize("bad", ["http://api.exemplo.com", "https://127.0.0.1", "https://localhost:8443"])
def test_configure_webhooks_command_needs_an_https_public_webhook_url(production_rule, loja, bad):
    with pytest.raises(CommandError, match="base_domain"):
        call_command("configure_webhooks", "--webhook-url", bad, stdout=io.StringIO())


def test_configure_webhooks_command_checks_the_default_address_too(production_rule, settings, loja):
    settings.WEBHOOK_BASE_DOMAIN = "http://127.0.0.1:8000"
    with pytest.raises(CommandError, match="https"):
        call_command("configure_webhooks", stdout=io.StringIO())


def test_the_allowance_follows_debug_unless_set():
    code = "from django.conf import settings; print(settings.WEBHOOK_ALLOW_INSECURE_URLS)"
    base = {k: v for k, v in os.environ.items() if k != "WEBHOOK_ALLOW_INSECURE_URLS"}
    for debug, extra, expected in (("false", {}, "False"), ("true", {}, "True"),
                                   ("false", {"WEBHOOK_ALLOW_INSECURE_URLS": "true"}, "True")):
        env = {**base, "DJANGO_SECRET_KEY": "k", "DJANGO_DEBUG": debug, "DJANGO_SETTINGS_MODULE": "config.settings",
               **extra}
        out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == expected, out.stderr
