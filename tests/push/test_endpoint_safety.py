"""CONTRACT section 11, issue 26 item 1: a push endpoint is a URL the server POSTs to, so it may only
point at a public push service: checked when subscribing and again at every send, redirects never
followed. Over HTTP: the API, the worker (`send_push --once`) and local push services.

Name resolution is beyond the tests: where a name must resolve somewhere else, the judge's resolver
(`chegouhub.push.endpoints.resolve`) is replaced; the HTTP client still resolves for real.
"""

from __future__ import annotations

import logging

import pytest

from chegouhub.push import endpoints
from chegouhub.push.models import Inscricao, PushMessage, PushStatus
from tests.ops.http_receiver import Receiver
from tests.push.conftest import VAPID_PUBLIC
from tests.push.push_service import Browser, PushService
from tests.push.test_delivery import send_push, sell_out

pytestmark = pytest.mark.django_db

# The issue's four, then one of each other class that is not a public address.
INTERNAL = [
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "https://10.0.0.5:8443/admin",  # private
    "https://127.0.0.1:6379/",  # loopback (Redis)
    "https://[::1]:5432/",  # loopback (PostgreSQL)
    "https://100.64.0.1/",  # CGNAT
    "https://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6 (unique-local)
    "https://[fc00::5]/",  # unique-local
    "https://[fe80::1]/",  # link-local
    "https://[::ffff:10.0.0.5]/",  # IPv4-mapped private
    "https://192.168.0.1/",
    "https://172.16.0.1/",
    "https://0.0.0.0:8000/",
    "https://224.0.0.1/",  # multicast
    "https://localhost:8000/",
    "https://2130706433/",  # 127.0.0.1 written as a number
]
PUBLIC_V4, PUBLIC_V6 = "142.250.78.10", "2607:f8b0:4004:c07::5f"


@pytest.fixture
def production(settings):
    settings.PUSH_ALLOW_HTTP_LOOPBACK = False  # as in every process without DJANGO_DEBUG
    return settings


@pytest.fixture
def dns(monkeypatch):
    """name -> addresses the judge sees; other names resolve for real (literal addresses need no DNS)."""
    table: dict[str, list[str]] = {}
    real = endpoints.resolve
    monkeypatch.setattr(endpoints, "resolve", lambda host, port: list(table[host]) if host in table
                        else real(host, port))
    return table


def subscribe(api, browser_or_endpoint):
    body = (browser_or_endpoint.subscription() if hasattr(browser_or_endpoint, "subscription") else
            {"endpoint": browser_or_endpoint, "keys": SOME_BROWSER_KEYS})
    return api.post("/api/push/inscricoes/", body, format="json")


SOME_BROWSER_KEYS = Browser(endpoint="").subscription()["keys"]  # valid keys; the endpoint is what is judged


@pytest.mark.parametrize("endpoint", INTERNAL)
def test_an_endpoint_at_an_internal_address_is_refused_even_when_any_host_is_allowed(api, production, endpoint):
    production.PUSH_ALLOWED_HOSTS = ["*"]  # the operator opened the list: the address rule still holds
    r = subscribe(api, endpoint)
    assert r.status_code == 400, r.content
    assert "público" in " ".join(r.json()["campos"]["endpoint"])
    assert not Inscricao.objects.exists()


@pytest.mark.parametrize("endpoint", INTERNAL[:4])
def test_the_issues_endpoints_are_refused_with_the_default_settings(api, production, endpoint):
    r = subscribe(api, endpoint)
    assert r.status_code == 400, r.content
    assert "endpoint" in r.json()["campos"]
    assert not Inscricao.objects.exists()


def test_a_listed_host_that_is_an_internal_address_is_still_refused(api, production):
    production.PUSH_ALLOWED_HOSTS = ["10.0.0.5", "169.254.169.254"]
    for endpoint in ("https://10.0.0.5:8443/admin", "https://169.254.169.254/latest/meta-data/"):
        r = subscribe(api, endpoint)
        assert r.status_code == 400 and "público" in str(r.json()["campos"]["endpoint"])


def test_a_name_resolving_to_any_internal_address_is_refused(api, production, dns):
    production.PUSH_ALLOWED_HOSTS = ["*"]
    dns["interno.exemplo.test"] = ["10.0.0.5"]
    dns["misto.exemplo.test"] = [PUBLIC_V4, "169.254.169.254"]  # one inside is enough
    dns["v6.exemplo.test"] = [PUBLIC_V4, "fd00:ec2::254"]
    dns["sumiu.exemplo.test"] = []
    for host in ("interno", "misto", "v6"):
        r = subscribe(api, f"https://{host}.exemplo.test/push/abc")
        assert r.status_code == 400 and "público" in str(r.json()["campos"]["endpoint"]), (host, r.content)
    r = subscribe(api, "https://sumiu.exemplo.test/push/abc")
    assert r.status_code == 400 and "endpoint" in r.json()["campos"]
    assert not Inscricao.objects.exists()


def test_only_the_browsers_push_services_by_default(api, production, dns):
    for host in ("fcm.googleapis.com", "updates.push.services.mozilla.com", "wns2-par02p.notify.windows.com",
                 "web.push.apple.com", "api.push.apple.com", "push.example.com", "evilnotify.windows.com",
                 "notify.windows.com.example.com"):
        dns[host] = [PUBLIC_V4, PUBLIC_V6]
    accepted = ["https://fcm.googleapis.com/fcm/send/abc:def", "https://updates.push.services.mozilla.com/wpush/v2/x",
                "https://wns2-par02p.notify.windows.com/w/?token=x", "https://web.push.apple.com/QG-x",
                "https://api.push.apple.com/3/device/x"]
    for endpoint in accepted:
        assert subscribe(api, endpoint).status_code == 201, endpoint
    for endpoint in ("https://push.example.com/abc", "https://evilnotify.windows.com/w/x",
                     "https://notify.windows.com.example.com/w/x", "http://fcm.googleapis.com/fcm/send/x"):
        r = subscribe(api, endpoint)
        assert r.status_code == 400 and "endpoint" in r.json()["campos"], endpoint
    assert sorted(Inscricao.objects.values_list("endpoint", flat=True)) == sorted(accepted)
    # An allowed push service whose name now points inside is refused too.
    dns["fcm.googleapis.com"] = ["10.0.0.5"]
    assert subscribe(api, "https://fcm.googleapis.com/fcm/send/outro").status_code == 400


@pytest.fixture
def tls_push_service(tmp_path, monkeypatch):
    service = PushService(tls_dir=tmp_path).start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(service.ca_file))  # the client trusts its certificate
    yield service
    service.stop()


def test_an_endpoint_whose_name_now_points_inside_is_not_sent(api, production, dns, loja, make_produto,
                                                             tls_push_service, caplog):
    production.PUSH_ALLOWED_HOSTS = ["localhost"]
    browser = tls_push_service.new_browser(server_key=VAPID_PUBLIC)
    dns["localhost"] = [PUBLIC_V4]  # when subscribing, the name answered a public address
    assert subscribe(api, browser).status_code == 201
    sell_out(make_produto(loja, "ZERO", estoque=1))
    dns["localhost"] = ["127.0.0.1"]  # ... and now it answers one inside

    with caplog.at_level(logging.INFO, logger="chegouhub.push"):
        out = send_push()
    assert "sent" not in out and "dead=1" in out
    assert tls_push_service.requests == [] and tls_push_service.received == []
    (message,) = PushMessage.objects.all()
    assert message.status == PushStatus.DEAD and message.sent_at is None
    assert "recusado" in message.last_error
    (line,) = [r for r in caplog.records if getattr(r, "message_id", None) == message.pk]
    assert line.host == "localhost" and browser.token not in caplog.text + str(line.__dict__)
    # Nothing is retried: the next pass sends nothing either.
    send_push()
    assert tls_push_service.requests == []


def test_a_name_that_rebinds_between_the_check_and_the_connection_reaches_nothing(
        api, production, dns, loja, make_produto, tls_push_service):
    production.PUSH_ALLOWED_HOSTS = ["localhost"]
    browser = tls_push_service.new_browser(server_key=VAPID_PUBLIC)
    dns["localhost"] = [PUBLIC_V4]  # the check always sees a public address; the connection reaches 127.0.0.1
    assert subscribe(api, browser).status_code == 201
    sell_out(make_produto(loja, "ZERO", estoque=1))

    out = send_push()
    assert "sent" not in out and "dead=1" in out
    assert tls_push_service.requests == []
    assert PushMessage.objects.get().status == PushStatus.DEAD


def test_the_tls_push_service_is_reached_when_the_name_really_is_public(api, production, dns, loja,
                                                                         make_produto, tls_push_service):
    """The two tests above refuse for the address, not for TLS: with loopback allowed (debug) it is sent."""
    production.PUSH_ALLOW_HTTP_LOOPBACK = True
    production.PUSH_ALLOWED_HOSTS = ["localhost"]
    browser = tls_push_service.new_browser(server_key=VAPID_PUBLIC)
    assert subscribe(api, browser).status_code == 201
    sell_out(make_produto(loja, "ZERO", estoque=1))
    assert "sent=1" in send_push()
    assert [p["title"] for p in tls_push_service.payloads(browser)] == ["Estoque zerado: Produto ZERO"]


def test_a_redirect_from_the_push_service_is_never_followed(api, loja, make_produto, push_service, browser_sub):
    with Receiver() as internal:
        assert subscribe(api, browser_sub).status_code == 201
        push_service.answers[browser_sub.token] = [(307, {"Location": f"{internal.url}/admin/apagar-tudo"})]
        sell_out(make_produto(loja, "ZERO", estoque=1))
        out = send_push()
        assert internal.requests == []
    assert "sent" not in out
    message = PushMessage.objects.get()
    assert message.status == PushStatus.DEAD and message.sent_at is None and message.last_error == "HTTP 307"


def test_an_inscricao_stored_before_the_rule_is_refused_at_send_and_the_worker_goes_on(
        api, user, loja, make_produto, push_service, browser_sub, production, settings, caplog):
    """A row written straight to the database (as those subscribed before this rule were)."""
    settings.PUSH_TIMEOUT_SECONDS = 1.0  # on the old code the worker would wait for 169.254.169.254
    production.PUSH_ALLOW_HTTP_LOOPBACK = True  # the local push service beside it still gets its message
    assert subscribe(api, browser_sub).status_code == 201
    keys = SOME_BROWSER_KEYS
    Inscricao.objects.create(user=user, endpoint="https://169.254.169.254/latest/meta-data/iam/",
                             endpoint_sha256="x" * 64, p256dh=keys["p256dh"], auth=keys["auth"],
                             tipos=["produto_estoque_zero"])
    sell_out(make_produto(loja, "ZERO", estoque=1))

    with caplog.at_level(logging.INFO, logger="chegouhub.push"):
        out = send_push()
    assert "sent=1" in out and "dead=1" in out
    assert len(push_service.payloads(browser_sub)) == 1
    dead = PushMessage.objects.get(status=PushStatus.DEAD)
    assert dead.inscricao.endpoint.startswith("https://169.254.169.254/") and "recusado" in dead.last_error
    assert "meta-data" not in caplog.text + "".join(str(r.__dict__) for r in caplog.records)
