"""Fixtures for the fake Shopify: one real server process per test session, reset per test."""

from __future__ import annotations

import pytest

from chegouhub.devtools.fake_shopify.server import FakeShopifyServer


@pytest.fixture(scope="session")
def fake_shopify_server():
    server = FakeShopifyServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_shopify(fake_shopify_server, settings):
    """The fake, emptied, with SHOPIFY_ADMIN_URL_TEMPLATE pointed at it for this test."""
    fake_shopify_server.reset()
    settings.SHOPIFY_ADMIN_URL_TEMPLATE = fake_shopify_server.admin_url_template
    return fake_shopify_server


def register(fake: FakeShopifyServer, lojas, **shop_options) -> None:
    """Register the lojas' shops and tokens in the fake (same options for all)."""
    fake.add_shops([{"shop": loja.shop_domain, "token": loja.access_token, **shop_options} for loja in lojas])
