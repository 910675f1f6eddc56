"""Zero stock and lost subscriptions go out to the loja's Slack and Discord incoming webhooks,
after commit, with retries, never blocking or failing the webhook. Against a real local HTTP server."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from chegouhub.devtools.payloads import order_payload
from chegouhub.inventory.services import adjust_stock
from chegouhub.notify.models import OutboundAlert, OutboundStatus
from chegouhub.notify.services import allowed_destination, payload_for
from chegouhub.stores.models import Loja
from tests.ops.http_receiver import Receiver, answer

SLACK = "/services/T000/B000/slack-secret-path"
DISCORD = "/api/webhooks/123/discord-secret-path"


@pytest.fixture
def receiver(settings):
    settings.NOTIFY_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.NOTIFY_REQUIRE_HTTPS = False
    settings.NOTIFY_RETRY_BASE_SECONDS = 10.0
    with Receiver() as r:
        yield r


def wire(loja, receiver, slack=True, discord=True) -> None:
    Loja.objects.filter(pk=loja.pk).update(
        slack_webhook_url=f"{receiver.url}{SLACK}" if slack else "",
        discord_webhook_url=f"{receiver.url}{DISCORD}" if discord else "",
    )


def wait_status(expected: set[str], timeout: float = 10.0) -> list[OutboundAlert]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(OutboundAlert.objects.order_by("id"))
        if rows and {r.status for r in rows} <= expected:
            return rows
        time.sleep(0.05)
    return list(OutboundAlert.objects.order_by("id"))


def make_due() -> None:
    OutboundAlert.objects.filter(status=OutboundStatus.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db(transaction=True)
def test_zero_stock_from_a_webhook_reaches_slack_and_discord_right_after_commit(receiver, loja, make_produto,
                                                                               post_webhook):
    wire(loja, receiver)
    make_produto(loja, "CAMISA-@everyone", estoque=2, minimo=0, nome="Camisa <b>&</b> @everyone")
    r = post_webhook(loja, "orders/paid", order_payload(9001, [(1, "CAMISA-@everyone", 2)]))
    assert r.json() == {"status": "processed"}
    slack = receiver.wait_for(SLACK)
    discord = receiver.wait_for(DISCORD)
    assert len(slack) == 1 and len(discord) == 1
    assert set(slack[0]["json"]) == {"text"}
    assert "Estoque zerado" in slack[0]["json"]["text"] and "CAMISA-@everyone" in slack[0]["json"]["text"]
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in slack[0]["json"]["text"]  # Slack's control characters escaped
    assert slack[0]["headers"]["Content-Type"] == "application/json"
    assert set(discord[0]["json"]) == {"content", "allowed_mentions"}
    assert discord[0]["json"]["allowed_mentions"] == {"parse": []}  # "@everyone" in a name pings nobody
    assert "Estoque zerado" in discord[0]["json"]["content"]
    rows = wait_status({OutboundStatus.SENT})
    assert [(r.channel, r.status, r.attempts) for r in rows] == [("slack", "sent", 1), ("discord", "sent", 1)]


@pytest.mark.django_db(transaction=True)
def test_failures_are_retried_with_backoff_until_sent(receiver, loja, make_produto):
    wire(loja, receiver, discord=False)
    receiver.on(SLACK, answer(500), answer(503), answer(200, b"ok"))
    produto = make_produto(loja, "S-1", estoque=1, minimo=0)
    adjust_stock(produto=produto, quantidade=-1, motivo="venda balcão")
    (row,) = wait_status({OutboundStatus.PENDING})
    receiver.wait_for(SLACK, 1)
    row = wait_status({OutboundStatus.PENDING})[0]
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    assert 9 <= (row.next_attempt_at - timezone.now()).total_seconds() <= 10
    call_command("send_alerts", "--once")  # not due yet
    assert len(receiver.received(SLACK)) == 1
    make_due()
    call_command("send_alerts", "--once")
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == ("pending", 2, "HTTP 503")
    assert 19 <= (row.next_attempt_at - timezone.now()).total_seconds() <= 20
    make_due()
    call_command("process_webhooks", "--once")  # the webhook worker drains the outbox too
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(receiver.received(SLACK)) == 3


@pytest.mark.django_db(transaction=True)
def test_discord_rate_limit_retry_after_is_honoured(receiver, loja, make_produto):
    wire(loja, receiver, slack=False)
    receiver.on(DISCORD, answer(429, b'{"retry_after": 120.5, "global": false}',
                                {"Content-Type": "application/json"}), answer(204))
    produto = make_produto(loja, "D-1", estoque=1, minimo=0)
    adjust_stock(produto=produto, quantidade=-1, motivo="x")
    receiver.wait_for(DISCORD, 1)
    row = wait_status({OutboundStatus.PENDING})[0]
    assert row.last_error == "HTTP 429"
    assert 119 <= (row.next_attempt_at - timezone.now()).total_seconds() <= 121
    make_due()
    call_command("send_alerts", "--once")
    row.refresh_from_db()
    assert row.status == "sent"


@pytest.mark.django_db(transaction=True)
def test_permanent_refusal_and_exhausted_retries_end_dead(receiver, loja, make_produto, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    wire(loja, receiver)
    receiver.on(SLACK, answer(404, b"no_service"))
    receiver.on(DISCORD, answer(502))
    produto = make_produto(loja, "X-1", estoque=1, minimo=0)
    adjust_stock(produto=produto, quantidade=-1, motivo="x")
    receiver.wait_for(DISCORD, 1)
    time.sleep(0.2)
    for _ in range(3):
        make_due()
        call_command("send_alerts", "--once")
    rows = {r.channel: r for r in OutboundAlert.objects.all()}
    assert (rows["slack"].status, rows["slack"].attempts, rows["slack"].last_error) == ("dead", 1, "HTTP 404")
    assert (rows["discord"].status, rows["discord"].attempts) == ("dead", 2)
    assert len(receiver.received(SLACK)) == 1 and len(receiver.received(DISCORD)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_hanging_or_absent_destination_never_blocks_or_fails_the_webhook(receiver, loja, make_produto,
                                                                          post_webhook, settings):
    settings.NOTIFY_TIMEOUT_SECONDS = 1.0
    wire(loja, receiver)
    receiver.on(SLACK, answer(200, b"ok", delay=3.0))
    Loja.objects.filter(pk=loja.pk).update(discord_webhook_url="http://127.0.0.1:9/closed")  # nothing listens
    make_produto(loja, "H-1", estoque=1, minimo=0)
    started = time.monotonic()
    r = post_webhook(loja, "orders/paid", order_payload(9002, [(1, "H-1", 1)]))
    elapsed = time.monotonic() - started
    assert r.status_code == 200 and r.json() == {"status": "processed"}
    assert elapsed < 0.9  # the send happens after the answer, in the background
    rows = wait_status({OutboundStatus.PENDING, OutboundStatus.SENT}, timeout=5)
    time.sleep(1.5)  # let the background sends finish before the database is flushed
    statuses = {r.channel: r.status for r in OutboundAlert.objects.all()}
    assert statuses == {"slack": "pending", "discord": "pending"}, rows  # both to be retried


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_for_a_rolled_back_change(receiver, loja, make_produto):
    wire(loja, receiver)
    produto = make_produto(loja, "RB-1", estoque=1, minimo=0)
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            adjust_stock(produto=produto, quantidade=-1, motivo="x")
            assert OutboundAlert.objects.count() == 2
            raise RuntimeError("rollback")
    time.sleep(0.3)
    assert OutboundAlert.objects.count() == 0
    assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_alerts_left_by_a_crashed_process_are_sent_by_the_worker(receiver, loja, make_produto, settings):
    settings.NOTIFY_SEND_IMMEDIATELY = False  # as if the process died right after commit
    wire(loja, receiver)
    produto = make_produto(loja, "C-1", estoque=1, minimo=0)
    adjust_stock(produto=produto, quantidade=-1, motivo="x")
    time.sleep(0.2)
    assert receiver.requests == []
    assert OutboundAlert.objects.filter(status="pending").count() == 2
    call_command("process_webhooks", "--once")
    assert {r.status for r in OutboundAlert.objects.all()} == {"sent"}
    assert len(receiver.received(SLACK)) == 1 and len(receiver.received(DISCORD)) == 1


@pytest.mark.django_db(transaction=True)
def test_lost_subscription_is_announced(receiver, loja, post_webhook):
    wire(loja, receiver)
    r = post_webhook(loja, "app/uninstalled", {"id": 1, "domain": loja.shop_domain})
    assert r.status_code == 200
    slack = receiver.wait_for(SLACK)
    discord = receiver.wait_for(DISCORD)
    assert "Webhooks da Shopify perdidos" in slack[0]["json"]["text"]
    assert loja.shop_domain in discord[0]["json"]["content"]
    assert "desinstalado" in discord[0]["json"]["content"]
    wait_status({OutboundStatus.SENT})


@pytest.mark.django_db
def test_a_loja_without_destinations_writes_nothing(loja, make_produto):
    produto = make_produto(loja, "N-1", estoque=1, minimo=0)
    adjust_stock(produto=produto, quantidade=-1, motivo="x")
    assert OutboundAlert.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_destinations_outside_the_allow_list_are_never_called(receiver, loja, make_produto, settings):
    settings.NOTIFY_ALLOWED_HOSTS = ["hooks.slack.com", "discord.com"]
    wire(loja, receiver)
    produto = make_produto(loja, "A-1", estoque=1, minimo=0)
    adjust_stock(produto=produto, quantidade=-1, motivo="x")
    rows = wait_status({OutboundStatus.DEAD})
    assert {r.status for r in rows} == {"dead"}
    assert receiver.requests == []


def test_destination_rules_and_payload_shapes(settings):
    settings.NOTIFY_ALLOWED_HOSTS = ["hooks.slack.com", "discord.com"]
    settings.NOTIFY_REQUIRE_HTTPS = True
    assert allowed_destination("https://hooks.slack.com/services/T/B/x")
    assert allowed_destination("https://discord.com/api/webhooks/1/x")
    assert not allowed_destination("http://hooks.slack.com/services/T/B/x")
    assert not allowed_destination("https://169.254.169.254/latest/meta-data")
    assert not allowed_destination("https://hooks.slack.com.evil.example/x")
    assert not allowed_destination("file:///etc/passwd")
    assert payload_for("slack", "a") == {"text": "a"}
    assert payload_for("discord", "x" * 3000)["content"] == "x" * 2000


@pytest.mark.django_db
def test_an_outbox_failure_never_fails_the_stock_change(loja, make_produto, settings):
    from unittest import mock

    settings.NOTIFY_SEND_IMMEDIATELY = False
    Loja.objects.filter(pk=loja.pk).update(slack_webhook_url="https://hooks.slack.com/services/T/B/x")
    produto = make_produto(loja, "F-1", estoque=1, minimo=0)
    with mock.patch.object(OutboundAlert.objects, "bulk_create", side_effect=RuntimeError("outbox broken")):
        adjust_stock(produto=produto, quantidade=-1, motivo="x")
    produto.refresh_from_db()
    assert produto.estoque_atual == 0
    assert OutboundAlert.objects.count() == 0
