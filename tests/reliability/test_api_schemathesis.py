"""schemathesis over the OpenAPI schema (/api/schema/): whatever it sends, never a 5xx.

Authenticated as a user who owns a loja with produtos, alerts and deliveries, so generated ids
sometimes hit real objects. Bounded: a few examples per operation, derandomized.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from chegouhub.inventory.services import adjust_stock
from tests.devtools.fake_fixtures import fake_shopify, fake_shopify_server, register  # noqa: F401

pytestmark = pytest.mark.django_db

def _load_schema():
    """The same document /api/schema/ serves, generated in-process (no database needed)."""
    import json

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    raw = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = get_wsgi_application()
    # The coverage phase enumerates boundary values without bound; keep examples + fuzzing, which
    # max_examples bounds, so the whole API is covered in well under a minute.
    loaded.config.phases.coverage.enabled = False
    return loaded


schema = _load_schema()


@pytest.fixture
def api_world(user, make_loja, make_produto, post_webhook, settings, fake_shopify):
    settings.WEBHOOK_FAILED_REQUESTS_PER_MINUTE = 10**9
    loja = make_loja(user)
    register(fake_shopify, [loja])  # the webhook-management endpoints talk to the fake Shopify
    p = make_produto(loja, "ST-1", estoque=3, minimo=2)
    make_produto(loja, "ST-2", estoque=10, minimo=0)
    adjust_stock(produto=p, quantidade=-3, motivo="zera")  # opens alerts
    token, _ = Token.objects.get_or_create(user=user)
    # The raw WSGI handler closes the connection at each request's end, which would drop the test's
    # transaction; Django's own test client does the same as this while it runs.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield {"Authorization": f"Token {token.key}"}
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_never_answers_5xx(case, api_world):
    response = case.call(headers=api_world)
    _CALLS[case.operation.label] = _CALLS.get(case.operation.label, 0) + 1
    case.validate_response(response, checks=[not_a_server_error])


_CALLS: dict[str, int] = {}


def test_schemathesis_covered_every_operation():
    """Runs after the generated tests (file order): every operation of the schema was called."""
    if not _CALLS:
        pytest.skip("run together with test_api_never_answers_5xx")
    operations = {op.label for op in (r.ok() for r in schema.get_all_operations())}
    assert set(_CALLS) == operations
    print(f"\nschemathesis: {sum(_CALLS.values())} requests over {len(_CALLS)} operations, no 5xx")
