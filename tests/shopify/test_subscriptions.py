"""Webhook subscriptions of many lojas against the fake Shopify, run as a real server process."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from chegouhub.realtime.models import Event
from chegouhub.shopify import subscriptions
from chegouhub.stores.models import Loja, WebhookStatus
from tests.devtools.fake_fixtures import register
from tests import live

NEW = "https://novo.chegouhub.test"
OLD = "https://antigo.chegouhub.test"
NEW_ADDRESS = f"{NEW}/api/estoque/webhook/shopify/"
OLD_ADDRESS = f"{OLD}/api/estoque/webhook/shopify/"
REQUIRED_ENUMS = {"ORDERS_PAID", "ORDERS_CANCELLED", "REFUNDS_CREATE", "APP_UNINSTALLED"}
UNRELATED = ("PRODUCTS_UPDATE", "https://outro-servico.test/hooks/products")
# throttling on: small buckets, drained right before a run, half answering 200+THROTTLED, half HTTP 429
THROTTLED_SHOP = {"bucket_size": 60, "restore_rate": 25}


def _lojas(make_user, make_loja, n: int, owner=None):
    owner = owner or make_user()
    return [make_loja(owner, token=f"shpat_token_{i:04d}") for i in range(n)]


def _register_throttled(fake, lojas, *, bad: set[int] = frozenset(), restore_rate: float = 25,
                        subscriptions: list[dict] | None = None):
    specs = []
    for i, loja in enumerate(lojas):
        specs.append({"shop": loja.shop_domain, "token": "outro-token" if loja.pk in bad else loja.access_token,
                      "throttle_mode": "graphql" if i % 2 else "http429", **THROTTLED_SHOP,
                      "restore_rate": restore_rate, "subscriptions": subscriptions or []})
    fake.add_shops(specs)


def _subs(fake, loja) -> list[tuple[str, str]]:
    return sorted((s["topic"], s["uri"]) for s in fake.subscriptions(loja.shop_domain))


def _ids(fake, loja) -> set[str]:
    return {s["id"] for s in fake.subscriptions(loja.shop_domain)}


def _all_subs(fake, lojas) -> dict[int, list[tuple[str, str]]]:
    state = fake.all_shops()
    return {loja.pk: sorted((s["topic"], s["uri"]) for s in state[loja.shop_domain]["subscriptions"])
            for loja in lojas}


def _all_ids(fake, lojas) -> dict[int, set[str]]:
    state = fake.all_shops()
    return {loja.pk: {s["id"] for s in state[loja.shop_domain]["subscriptions"]} for loja in lojas}


def _created(fake, lojas) -> int:
    state = fake.all_shops()
    return sum(state[loja.shop_domain]["stats"]["created"] for loja in lojas)


def _run(*args) -> str:
    out = io.StringIO()
    call_command("configure_webhooks", *args, "--concurrency", "50", stdout=out)
    return out.getvalue()


def test_fifty_lojas_throttled_configured_exactly_once_and_a_rejected_token_fails_alone(
        fake_shopify, make_user, make_loja):
    lojas = _lojas(make_user, make_loja, 50)
    bad = lojas[17]
    _register_throttled(fake_shopify, lojas, bad={bad.pk})

    out = io.StringIO()
    fake_shopify.set_all_buckets(0)
    with pytest.raises(CommandError, match="1 loja"):
        call_command("configure_webhooks", "--webhook-url", NEW, "--concurrency", "50", stdout=out)
    output = out.getvalue()
    assert "FALHOU" in output and bad.shop_domain in output and "token de acesso" in output
    assert "outro-token" not in output and bad.access_token not in output

    subs = _all_subs(fake_shopify, lojas)
    for loja in lojas:
        if loja.pk == bad.pk:
            assert subs[loja.pk] == []
        else:  # exactly the required subscriptions, at the right address
            assert subs[loja.pk] == sorted((t, NEW_ADDRESS) for t in REQUIRED_ENUMS)
    statuses = dict(Loja.objects.values_list("pk", "webhook_status"))
    assert statuses.pop(bad.pk) == WebhookStatus.ERROR
    assert set(statuses.values()) == {WebhookStatus.CONFIGURED}
    stats = fake_shopify.stats()
    assert stats["throttled"] > 0 and stats["http429"] > 0  # both kinds of throttling were met and waited out

    # a second run creates nothing (and still reports the rejected token)
    before = _all_ids(fake_shopify, lojas)
    created_before = _created(fake_shopify, lojas)
    with pytest.raises(CommandError, match="1 loja"):
        _run("--webhook-url", NEW)
    assert _all_ids(fake_shopify, lojas) == before
    assert _created(fake_shopify, lojas) == created_before

    # once the token is right, the run succeeds and only that loja gets subscriptions
    fake_shopify.add_shop(bad.shop_domain, bad.access_token)
    output = _run("--webhook-url", NEW)
    assert "50 ok, 0 com falha" in output
    assert _subs(fake_shopify, bad) == sorted((t, NEW_ADDRESS) for t in REQUIRED_ENUMS)
    after = _all_ids(fake_shopify, lojas)
    assert {k: v for k, v in after.items() if k != bad.pk} == {k: v for k, v in before.items() if k != bad.pk}
    assert Loja.objects.get(pk=bad.pk).webhook_status == WebhookStatus.CONFIGURED


def test_test_only_changes_nothing(fake_shopify, make_user, make_loja):
    lojas = _lojas(make_user, make_loja, 50)
    _register_throttled(fake_shopify, lojas)
    for loja in lojas[:20]:  # some lojas half-configured under the old domain
        fake_shopify.add_subscription(loja.shop_domain, "ORDERS_PAID", OLD_ADDRESS)
    before = _all_subs(fake_shopify, lojas)
    statuses = dict(Loja.objects.values_list("pk", "webhook_status"))
    events = Event.objects.count()

    fake_shopify.set_all_buckets(0)
    output = _run("--webhook-url", NEW, "--test-only")

    assert "50 ok, 0 com falha" in output and "teste" in output
    assert _all_subs(fake_shopify, lojas) == before
    assert _created(fake_shopify, lojas) == 0
    assert dict(Loja.objects.values_list("pk", "webhook_status")) == statuses
    assert Event.objects.count() == events


def test_cleanup_removes_the_old_domains_subscriptions_and_nothing_else(fake_shopify, make_user, make_loja):
    lojas = _lojas(make_user, make_loja, 50)
    _register_throttled(fake_shopify, lojas, restore_rate=50, subscriptions=[
        *({"topic": topic, "uri": OLD_ADDRESS} for topic in REQUIRED_ENUMS),
        {"topic": UNRELATED[0], "uri": UNRELATED[1]}])
    state = fake_shopify.all_shops()
    unrelated_ids = {loja.pk: {s["id"] for s in state[loja.shop_domain]["subscriptions"]
                               if s["topic"] == UNRELATED[0]} for loja in lojas}

    fake_shopify.set_all_buckets(0)
    output = _run("--webhook-url", NEW, "--cleanup")

    assert "50 ok, 0 com falha" in output
    assert fake_shopify.stats()["throttled"] + fake_shopify.stats()["http429"] > 0
    state = fake_shopify.all_shops()
    for loja in lojas:
        subs = state[loja.shop_domain]["subscriptions"]
        assert not [s for s in subs if s["uri"].startswith(OLD)]
        assert {s["id"] for s in subs if s["topic"] == UNRELATED[0]} == unrelated_ids[loja.pk]
        assert sorted((s["topic"], s["uri"]) for s in subs) == sorted(
            [(t, NEW_ADDRESS) for t in REQUIRED_ENUMS] + [UNRELATED])


def test_cleanup_domain_only_touches_that_domain(fake_shopify, make_user, make_loja):
    lojas = _lojas(make_user, make_loja, 3)
    register(fake_shopify, lojas)
    other = "https://outra-implantacao.test/api/estoque/webhook/shopify/"
    for loja in lojas:
        fake_shopify.add_subscription(loja.shop_domain, "ORDERS_PAID", OLD_ADDRESS)
        fake_shopify.add_subscription(loja.shop_domain, "ORDERS_PAID", other)
    _run("--webhook-url", NEW, "--cleanup-domain", OLD)
    for loja in lojas:
        uris = {s["uri"] for s in fake_shopify.subscriptions(loja.shop_domain)}
        assert uris == {NEW_ADDRESS, other}


def test_force_replaces_required_topics_at_a_wrong_address(fake_shopify, make_user, make_loja):
    (loja,) = _lojas(make_user, make_loja, 1)
    register(fake_shopify, [loja])
    wrong = "https://errado.test/api/estoque/webhook/shopify/"
    fake_shopify.add_subscription(loja.shop_domain, "ORDERS_PAID", wrong)
    fake_shopify.add_subscription(loja.shop_domain, *UNRELATED)

    summary = subscriptions.configure_webhooks(lojas=[loja], base_domain=NEW)
    (result,) = summary.results
    assert result.ok and len(result.criados) == 4
    assert [e["endereco"] for e in result.enderecos_errados] == [wrong]
    assert ("ORDERS_PAID", wrong) in _subs(fake_shopify, loja)  # without force it is left alone

    summary = subscriptions.configure_webhooks(lojas=[loja], base_domain=NEW, force=True)
    (result,) = summary.results
    assert result.ok and result.criados == [] and [r["endereco"] for r in result.removidos] == [wrong]
    assert _subs(fake_shopify, loja) == sorted([(t, NEW_ADDRESS) for t in REQUIRED_ENUMS] + [UNRELATED])


def test_state_changes_notify_the_owner(fake_shopify, make_user, make_loja):
    owner = make_user()
    (loja,) = _lojas(make_user, make_loja, 1, owner=owner)
    register(fake_shopify, [loja])

    subscriptions.configure_webhooks(lojas=[loja], base_domain=NEW)
    subscriptions.configure_webhooks(lojas=[loja], base_domain=NEW)  # no change, no event
    events = list(Event.objects.filter(type="webhook_status_change", user=owner))
    assert [e.data["status"] for e in events] == [WebhookStatus.CONFIGURED]
    assert events[0].data["loja_id"] == loja.pk and events[0].data["shop_domain"] == loja.shop_domain

    # someone removed two subscriptions on Shopify: the status check notices
    for sub in fake_shopify.subscriptions(loja.shop_domain):
        if sub["topic"] in ("ORDERS_PAID", "REFUNDS_CREATE"):
            fake_shopify.http.post(f"/{loja.shop_domain}/admin/api/2025-10/graphql.json",
                                   headers={"X-Shopify-Access-Token": loja.access_token},
                                   json={"query": "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) "
                                                  "{ deletedWebhookSubscriptionId userErrors { message } } }",
                                         "variables": {"id": sub["id"]}})
    summary = subscriptions.webhooks_status(lojas=[loja], base_domain=NEW)
    assert summary.results[0].topicos_ausentes == ["orders/paid", "refunds/create"]
    subscriptions.cleanup_webhooks(lojas=[loja], base_domain=NEW)
    statuses = [e.data["status"] for e in Event.objects.filter(type="webhook_status_change", user=owner)]
    assert statuses == [WebhookStatus.CONFIGURED, WebhookStatus.INCOMPLETE, WebhookStatus.REMOVED]
    assert Loja.objects.get(pk=loja.pk).webhook_status == WebhookStatus.REMOVED


def test_user_and_loja_filters(fake_shopify, make_user, make_loja):
    ana, bruno = make_user("ana_f"), make_user("bruno_f")
    lojas_ana = _lojas(make_user, make_loja, 2, owner=ana)
    lojas_bruno = _lojas(make_user, make_loja, 2, owner=bruno)
    register(fake_shopify, lojas_ana + lojas_bruno)
    _run("--webhook-url", NEW, "--user", "ana_f")
    assert all(_subs(fake_shopify, loja) for loja in lojas_ana)
    assert not any(_subs(fake_shopify, loja) for loja in lojas_bruno)
    _run("--webhook-url", NEW, "--loja-id", str(lojas_bruno[1].pk))
    assert not _subs(fake_shopify, lojas_bruno[0]) and _subs(fake_shopify, lojas_bruno[1])
    with pytest.raises(CommandError, match="não encontrado"):
        _run("--user", "ninguem")
    with pytest.raises(CommandError, match="base_domain"):
        _run("--webhook-url", "ftp://x.test")


def test_legacy_api_version_uses_callback_url(fake_shopify, make_user, make_loja):
    (loja,) = _lojas(make_user, make_loja, 1)
    loja.api_version = "2025-07"
    loja.save()
    register(fake_shopify, [loja])
    summary = subscriptions.configure_webhooks(lojas=[loja], base_domain=NEW)
    assert summary.results[0].ok, summary.results[0].erro
    assert _subs(fake_shopify, loja) == sorted((t, NEW_ADDRESS) for t in REQUIRED_ENUMS)
    assert subscriptions.configure_webhooks(lojas=[loja], base_domain=NEW).results[0].criados == []


@pytest.mark.django_db(transaction=True)
def test_command_exit_code_says_when_a_loja_failed(fake_shopify, make_user, make_loja, settings):
    lojas = _lojas(make_user, make_loja, 3)
    register(fake_shopify, lojas[:2])
    fake_shopify.add_shop(lojas[2].shop_domain, "token-que-a-loja-nao-tem")
    env = dict(os.environ, DATABASE_URL=live.test_database_url(), DJANGO_SECRET_KEY=settings.SECRET_KEY,
               SHOPIFY_ADMIN_URL_TEMPLATE=fake_shopify.admin_url_template, DJANGO_SETTINGS_MODULE="config.settings")

    def run():
        return subprocess.run([sys.executable, "manage.py", "configure_webhooks", "--webhook-url", NEW], cwd=live.ROOT,
                              env=env, capture_output=True, text=True, timeout=60)

    failed = run()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "2 ok, 1 com falha" in failed.stdout and lojas[2].shop_domain in failed.stdout
    assert "token-que-a-loja-nao-tem" not in failed.stdout + failed.stderr
    assert lojas[2].access_token not in failed.stdout + failed.stderr


def test_base_domain_validation():
    assert subscriptions.normalize_base_domain("https://API.exemplo.com/") == "https://api.exemplo.com"
    assert subscriptions.normalize_base_domain(
        "https://api.exemplo.com/api/estoque/webhook/shopify/") == "https://api.exemplo.com"
    assert subscriptions.webhook_address("http://127.0.0.1:8000") == "http://127.0.0.1:8000/api/estoque/webhook/shopify/"
    for bad in ("", "api.exemplo.com", "ftp://x.test", "https://x.test/?a=1", "javascript:alert(1)"):
        with pytest.raises(ValueError):
            subscriptions.normalize_base_domain(bad)
    assert subscriptions.is_under("https://a.test/api/estoque/webhook/shopify/", "https://a.test")
    assert not subscriptions.is_under("https://a.test.evil/x", "https://a.test")
    assert not subscriptions.is_under("http://a.test/x", "https://a.test")
    assert subscriptions.is_under("https://a.test/v2/api/x", "https://a.test/v2")
    assert not subscriptions.is_under("https://a.test/v20/x", "https://a.test/v2")
