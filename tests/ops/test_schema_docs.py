"""OpenAPI schema at /api/schema/ and its docs pages, served without any CDN."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_schema_describes_the_api(client):
    r = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in ("/api/lojas/", "/api/estoque/produtos/", "/api/estoque/produtos/{id}/movimentacoes/",
                 "/api/estoque/alertas/", "/api/estoque/webhook/stats/", "/api/auth/token/",
                 "/api/estoque/webhook/entregas/{id}/replay/", "/api/estoque/webhook/shopify/"):
        assert path in paths, path
    token = paths["/api/auth/token/"]["post"]
    assert token["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/Credentials")
    # a movement of a loja since deleted from its shared depósito keeps its line, loja_id null
    assert schema["components"]["schemas"]["Movimentacao"]["properties"]["loja_id"].get("nullable") is True


def test_schema_generation_has_no_errors(capsys):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_docs_page_uses_only_local_assets(client):
    """Swagger UI from drf-spectacular-sidecar (Redoc is not offered: its page pulls web fonts)."""
    r = client.get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "/api/schema/" in html
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if u.startswith(("http:", "https:", "//"))]
    assert external == []
    assets = re.findall(r'(?:src|href)="/?static/([^"?]+)', html)
    assert assets, html[:500]
    for asset in assets:
        assert finders.find(asset), asset


def test_docs_assets_are_served_by_the_app_without_debug(client, settings):
    settings.DEBUG = False
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="(/static/drf_spectacular_sidecar/[^"?]+)', html)
    assert assets
    for asset in assets:
        r = client.get(asset)
        assert r.status_code == 200, asset
        b"".join(r.streaming_content)
    assert client.get("/static/drf_spectacular_sidecar/../../config/settings.py").status_code == 404
