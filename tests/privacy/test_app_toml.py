"""shopify.app.toml declares the app the code implements (Shopify CLI's app configuration)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from chegouhub.shopify.services import COMPLIANCE_TOPICS, REQUIRED_TOPICS

TOML = Path(__file__).resolve().parents[2] / "shopify.app.toml"
DEFAULT_SCOPES = "read_orders,read_products,read_inventory,write_inventory,read_locations"


def _app() -> dict:
    return tomllib.loads(TOML.read_text())


def test_the_app_is_declared_with_its_scopes_and_callback():
    app = _app()
    assert app["client_id"] and app["name"] and app["application_url"].startswith("https://")
    scopes = getattr(settings, "SHOPIFY_SCOPES", DEFAULT_SCOPES)
    if isinstance(scopes, (list, tuple)):
        scopes = ",".join(scopes)
    assert sorted(app["access_scopes"]["scopes"].split(",")) == sorted(s.strip() for s in scopes.split(","))
    host = urlsplit(app["application_url"]).netloc
    assert app["auth"]["redirect_urls"] == [f"https://{host}/shopify/callback/"]


def test_webhooks_match_the_code():
    webhooks = _app()["webhooks"]
    assert webhooks["api_version"] == settings.SHOPIFY_API_VERSION
    subs = webhooks["subscriptions"]
    topics = [t for s in subs for t in s.get("topics", [])]
    compliance = [t for s in subs for t in s.get("compliance_topics", [])]
    assert sorted(topics) == sorted(REQUIRED_TOPICS)
    assert compliance == ["customers/data_request", "customers/redact", "shop/redact"]
    assert sorted(compliance) == sorted(COMPLIANCE_TOPICS)
    host = urlsplit(_app()["application_url"]).netloc
    assert {s["uri"] for s in subs} == {f"https://{host}{settings.WEBHOOK_PATH}"}
