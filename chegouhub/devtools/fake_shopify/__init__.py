"""A fake Shopify for the demo, the tests and the benchmark: the GraphQL Admin API subset the
project uses, several shops with their own tokens, Shopify-like leaky-bucket throttling, and
failures that can be switched on. See docs/webhook-management.md."""

from .app import FakeShopifyApp
from .state import FakeShopify

__all__ = ["FakeShopify", "FakeShopifyApp"]
