from __future__ import annotations

import pytest

from chegouhub.push.vapid import generate_keys
from tests.push.push_service import PushService

VAPID_PRIVATE, VAPID_PUBLIC = generate_keys()


@pytest.fixture(autouse=True)
def vapid_settings(settings):
    settings.VAPID_PRIVATE_KEY = VAPID_PRIVATE
    settings.VAPID_PUBLIC_KEY = VAPID_PUBLIC
    settings.VAPID_SUBJECT = "mailto:testes@chegouhub.com.br"
    settings.PUSH_ALLOW_HTTP_LOOPBACK = True  # the local push service is plain http on 127.0.0.1
    settings.PUSH_RETRY_BASE_SECONDS = 1.0
    # Ids left unused by the rolled-back transactions of earlier tests are holes in the log; the
    # worker's wait for a hole to settle is tested on its own (test_matching.py).
    settings.PUSH_SETTLE_SECONDS = 0
    return settings


@pytest.fixture
def push_service():
    service = PushService().start()
    yield service
    service.stop()


@pytest.fixture
def browser_sub(push_service):
    """A browser subscribed with the server's key (what pushManager.subscribe() returns)."""
    return push_service.new_browser(server_key=VAPID_PUBLIC)
