"""Webhook subscriptions of the lojas on Shopify: one named function per business action.

- `configure_webhooks`: idempotent; creates the required topics that are missing at the
  address, leaves what is right; with `force`, replaces subscriptions of required topics that
  point to a wrong address.
- `webhooks_status`: which required topics are missing at the address.
- `test_connectivity`: the `shop` query and its latency.
- `cleanup_webhooks`: deletes the subscriptions whose address is under a base domain.

The remote part runs on asyncio, several lojas at once (bounded), each loja with its own
throttle-aware `AdminApiClient`; database work (reading the lojas, recording their state with
`set_webhook_status`, which tells their users through `webhook_status_change`) happens before
and after, in plain synchronous Django.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from chegouhub.common.logging import webhook_log
from chegouhub.common.apiversion import is_valid_api_version
from chegouhub.stores.fields import UNSENDABLE_TOKEN, credential_is_sendable
from chegouhub.stores.models import Loja, WebhookStatus
from chegouhub.stores.ownership import mark_verified

from . import admin_api
from .admin_api import AdminApiClient, ShopifyAuthError, ShopifyError, ShopifyUserErrors, WebhookSubscription
from .services import REQUIRED_TOPICS, set_webhook_status
from .tokens import LojaCredential

WEBHOOK_PATH = "/api/estoque/webhook/shopify/"
DEFAULT_CONCURRENCY = 10
ALREADY_TAKEN = "already been taken"


# --- addresses ---------------------------------------------------------------------------------


def normalize_base_domain(value: str) -> str:
    """An http(s) base URL without trailing slash; a full webhook address is accepted too.

    Raises ValueError with a clear message.
    """
    text = (value or "").strip()
    if not text:
        raise ValueError("Informe base_domain, por exemplo https://api.exemplo.com.")
    try:
        URLValidator(schemes=["http", "https"])(text)
    except ValidationError:
        raise ValueError("base_domain deve ser uma URL http(s), por exemplo https://api.exemplo.com.") from None
    parts = urlsplit(text)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("base_domain não pode ter usuário, senha, query string ou fragmento.")
    path = parts.path.rstrip("/")
    if (path + "/").endswith(WEBHOOK_PATH):
        path = (path + "/")[: -len(WEBHOOK_PATH)].rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


def public_base_domain(value: str) -> str:
    """`normalize_base_domain`, and the address must be one Shopify can reach and should be told:
    an `https://` public host name (no IP literal, no localhost or local-network name). Plain
    `http://` and loopback or private hosts pass only with WEBHOOK_ALLOW_INSECURE_URLS (on by
    default when DJANGO_DEBUG=true). Raises ValueError with a clear message."""
    base = normalize_base_domain(value)
    if settings.WEBHOOK_ALLOW_INSECURE_URLS:
        return base
    parts = urlsplit(base)
    if parts.scheme != "https":
        raise ValueError("base_domain deve usar https:// (http:// só com DJANGO_DEBUG=true).")
    host = (parts.hostname or "").rstrip(".")
    try:
        ipaddress.ip_address(host)
        is_ip = True
    except ValueError:
        is_ip = False
    if is_ip or "." not in host or host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        raise ValueError("base_domain deve ser um nome de host público, por exemplo https://api.exemplo.com "
                         "(endereços IP, localhost e nomes de rede local só com DJANGO_DEBUG=true).")
    return base


def webhook_address(base_domain: str) -> str:
    """`<base_domain>/api/estoque/webhook/shopify/`."""
    return normalize_base_domain(base_domain) + WEBHOOK_PATH


def is_under(address: str, base_domain: str) -> bool:
    """Whether a subscription address lives under a base domain (same scheme, host, port, path prefix)."""
    base = urlsplit(normalize_base_domain(base_domain))
    target = urlsplit(address or "")
    if target.scheme.lower() != base.scheme or target.netloc.lower() != base.netloc:
        return False
    prefix = base.path.rstrip("/")
    return target.path == prefix or target.path.startswith(prefix + "/")


def is_ours(address: str) -> bool:
    """An address of this service's webhook endpoint, under any base domain."""
    return urlsplit(address or "").path.endswith(WEBHOOK_PATH)


# --- what goes in and what comes out -----------------------------------------------------------


@dataclass(frozen=True)
class LojaTarget:
    """What the remote part needs of a loja; the token is never in its repr."""

    loja_id: int
    owner_id: int
    nome: str
    shop_domain: str
    api_version: str
    access_token: str = field(repr=False)
    credential: LojaCredential | None = field(default=None, repr=False, compare=False)  # renews an expiring token

    @classmethod
    def from_loja(cls, loja: Loja) -> LojaTarget:
        return cls(
            loja_id=loja.pk,
            owner_id=loja.owner_id,
            nome=loja.nome,
            shop_domain=loja.shop_domain,
            api_version=loja.api_version or settings.SHOPIFY_API_VERSION,
            access_token=loja.access_token or "",
            credential=LojaCredential.of(loja),
        )


@dataclass
class LojaResult:
    loja_id: int
    nome: str
    shop_domain: str
    ok: bool = True
    erro: str | None = None
    erro_codigo: str | None = None  # token_recusado, shopify_indisponivel, erro_de_validacao, ...
    criados: list[str] = field(default_factory=list)
    removidos: list[dict] = field(default_factory=list)
    mantidos: list[str] = field(default_factory=list)
    topicos_ausentes: list[str] = field(default_factory=list)
    enderecos_errados: list[dict] = field(default_factory=list)
    assinaturas: list[dict] = field(default_factory=list)
    conectado: bool | None = None
    shop: dict | None = None
    latencia_ms: float | None = None
    duracao_ms: float = 0.0
    requisicoes: int = 0
    limitado: int = 0  # throttled answers (THROTTLED + 429)
    webhook_status: str | None = None
    # what to record (not serialized): the new status and its sentence
    new_status: str | None = field(default=None, repr=False)
    detalhes: str = field(default="", repr=False)

    @classmethod
    def for_target(cls, target: LojaTarget) -> LojaResult:
        return cls(loja_id=target.loja_id, nome=target.nome, shop_domain=target.shop_domain)

    def fail(self, message: str, code: str = "erro") -> LojaResult:
        self.ok = False
        self.erro = message
        self.erro_codigo = code
        return self

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("new_status")
        data.pop("detalhes")
        return data


@dataclass
class RunSummary:
    results: list[LojaResult]
    seconds: float

    @property
    def failed(self) -> list[LojaResult]:
        return [r for r in self.results if not r.ok]

    @property
    def succeeded(self) -> list[LojaResult]:
        return [r for r in self.results if r.ok]

    def as_dict(self) -> dict:
        return {
            "total": len(self.results),
            "sucesso": len(self.succeeded),
            "falhas": len(self.failed),
            "duracao_ms": round(self.seconds * 1000, 1),
            "lojas": [r.as_dict() for r in self.results],
        }


# --- remote steps (async, one loja, its own client) --------------------------------------------


def _required_state(subs: list[WebhookSubscription], address: str) -> tuple[list[str], list[dict]]:
    """(required topics missing at the address, required-topic subscriptions at another address)."""
    missing = [t for t in REQUIRED_TOPICS if not any(s.topic == t and s.address == address for s in subs)]
    wrong = [s.as_dict() for s in subs if s.topic in REQUIRED_TOPICS and s.address != address]
    return missing, wrong


async def remote_status(client: AdminApiClient, result: LojaResult, address: str) -> list[WebhookSubscription]:
    subs = await admin_api.list_webhook_subscriptions(client)
    result.assinaturas = [s.as_dict() for s in subs]
    result.topicos_ausentes, result.enderecos_errados = _required_state(subs, address)
    return subs


async def remote_connectivity(client: AdminApiClient, result: LojaResult) -> None:
    started = time.perf_counter()
    try:
        result.shop = await admin_api.fetch_shop(client)
        result.conectado = True
    except ShopifyError:
        result.conectado = False
        raise
    finally:
        result.latencia_ms = round((time.perf_counter() - started) * 1000, 1)


async def remote_cleanup(client: AdminApiClient, result: LojaResult, subs: list[WebhookSubscription],
                         should_remove: Callable[[WebhookSubscription], bool]) -> list[WebhookSubscription]:
    """Delete the subscriptions `should_remove` picks; returns those that remain."""
    remaining = []
    for sub in subs:
        if should_remove(sub):
            await admin_api.delete_webhook_subscription(client, sub)
            result.removidos.append(sub.as_dict())
        else:
            remaining.append(sub)
    return remaining


async def remote_configure(client: AdminApiClient, result: LojaResult, subs: list[WebhookSubscription],
                           address: str, *, force: bool) -> list[WebhookSubscription]:
    """Create what is missing at `address`; with force, then delete required topics elsewhere."""
    subs = list(subs)
    problems: list[str] = []
    for topic in REQUIRED_TOPICS:
        if any(s.topic == topic and s.address == address for s in subs):
            result.mantidos.append(topic)
            continue
        try:
            subs.append(await admin_api.create_webhook_subscription(client, topic=topic, address=address))
            result.criados.append(topic)
        except ShopifyUserErrors as exc:
            if any(ALREADY_TAKEN in str(e.get("message", "")) for e in exc.user_errors):
                # created by an earlier attempt whose answer was lost: it is there
                result.mantidos.append(topic)
                subs.append(WebhookSubscription(id="", topic=topic, address=address))
            else:
                problems.append(str(exc))
    if force:
        wrong = [s for s in subs if s.topic in REQUIRED_TOPICS and s.address != address and s.id]
        subs = await remote_cleanup(client, result, subs, lambda s: s in wrong)
    result.topicos_ausentes, result.enderecos_errados = _required_state(subs, address)
    result.assinaturas = [s.as_dict() for s in subs if s.id]
    if problems:
        result.fail(" | ".join(problems), ShopifyUserErrors.code)
    return subs


# --- running many lojas ------------------------------------------------------------------------

LojaStep = Callable[[AdminApiClient, LojaTarget, LojaResult], Awaitable[None]]


async def run_remote(targets: Iterable[LojaTarget], step: LojaStep, *, concurrency: int = DEFAULT_CONCURRENCY,
                     on_done: Callable[[LojaResult], None] | None = None,
                     client_options: dict | None = None) -> RunSummary:
    """Run `step` for every loja, at most `concurrency` at once; a loja's failure is its own."""
    targets = list(targets)
    started = time.perf_counter()
    concurrency = max(1, concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(limits=limits) as http:

        async def one(target: LojaTarget) -> LojaResult:
            result = LojaResult.for_target(target)
            async with gate:
                loja_started = time.perf_counter()
                client = AdminApiClient(shop_domain=target.shop_domain, access_token=target.access_token,
                                        credential=target.credential, api_version=target.api_version, http=http,
                                        **(client_options or {}))
                if not target.access_token:
                    result.fail("A loja não tem token de acesso da Shopify cadastrado.", "sem_token")
                elif not credential_is_sendable(target.access_token):  # stored before input was checked
                    result.fail(UNSENDABLE_TOKEN.format(id=target.loja_id), ShopifyAuthError.code)
                else:
                    try:
                        await step(client, target, result)
                    except ShopifyError as exc:
                        result.fail(str(exc), exc.code)
                    except Exception as exc:  # one loja's bug must not sink the others
                        webhook_log.exception("webhook management step crashed",
                                              extra={"loja_id": target.loja_id})
                        result.fail(f"Erro inesperado ({type(exc).__name__}); veja o log.", "erro_interno")
                result.duracao_ms = round((time.perf_counter() - loja_started) * 1000, 1)
                result.requisicoes = client.stats.requests
                result.limitado = client.stats.throttled + client.stats.http_429
            if on_done is not None:
                on_done(result)
            return result

        results = await asyncio.gather(*(one(t) for t in targets))
    return RunSummary(results=list(results), seconds=time.perf_counter() - started)


def _run(coro):
    """Run the remote part from synchronous code (views, commands, tests)."""
    return asyncio.run(coro)


def targets_for(lojas: Iterable[Loja]) -> list[LojaTarget]:
    return [LojaTarget.from_loja(loja) for loja in lojas]


# --- recording state ---------------------------------------------------------------------------


RECORD_CHUNK = 100


def record_states(summary: RunSummary) -> None:
    """Persist each loja's new webhook status; changes notify its users (`webhook_status_change`).

    Lojas are locked in primary-key order, a hundred per transaction (fewer commits for big runs,
    short enough transactions for the webhook receiver).
    """
    pending = sorted((r for r in summary.results if r.new_status is not None), key=lambda r: r.loja_id)
    for start in range(0, len(pending), RECORD_CHUNK):
        chunk = pending[start:start + RECORD_CHUNK]
        with transaction.atomic():
            lojas = Loja.objects.select_for_update().filter(pk__in=[r.loja_id for r in chunk]).order_by("pk")
            by_id = {loja.pk: loja for loja in lojas}
            for result in chunk:
                loja = by_id.get(result.loja_id)
                if loja is None:
                    continue
                set_webhook_status(loja, result.new_status, result.detalhes[:500])
                result.webhook_status = result.new_status
        for result in chunk:
            webhook_log.info("webhook subscription state recorded",
                             extra={"loja_id": result.loja_id, "status": result.new_status, "ok": result.ok})


def _status_from_missing(result: LojaResult, previous: str | None) -> tuple[str, str]:
    missing = result.topicos_ausentes
    if not missing:
        return WebhookStatus.CONFIGURED, f"Todos os {len(REQUIRED_TOPICS)} webhooks obrigatórios estão ativos."
    if len(missing) == len(REQUIRED_TOPICS):
        if previous in (WebhookStatus.CONFIGURED, WebhookStatus.INCOMPLETE, WebhookStatus.REMOVED):
            return WebhookStatus.REMOVED, "Nenhum webhook obrigatório está ativo na Shopify."
        return WebhookStatus.NOT_CONFIGURED, "Nenhum webhook obrigatório está configurado."
    return WebhookStatus.INCOMPLETE, "Faltam os webhooks: " + ", ".join(missing) + "."


def _previous_statuses(results: list[LojaResult]) -> dict[int, str]:
    ids = [r.loja_id for r in results]
    return dict(Loja.objects.filter(pk__in=ids).values_list("pk", "webhook_status"))


# --- the business actions ----------------------------------------------------------------------


def configure_webhooks(*, lojas: Iterable[Loja], base_domain: str, force: bool = False,
                       cleanup_domains: Iterable[str] = (), cleanup_stale: bool = False,
                       concurrency: int = DEFAULT_CONCURRENCY, on_done=None, client_options: dict | None = None,
                       record: bool = True) -> RunSummary:
    """Make every loja subscribe the required topics at `<base_domain>/api/estoque/webhook/shopify/`.

    Idempotent: a second run creates nothing. `cleanup_domains` first removes subscriptions
    under those base domains; `cleanup_stale` first removes this service's subscriptions at any
    other base domain (left behind by an old deployment). `force` replaces required-topic
    subscriptions that point to a wrong address.
    """
    address = webhook_address(base_domain)
    olds = [normalize_base_domain(d) for d in cleanup_domains]

    def stale(sub: WebhookSubscription) -> bool:
        if sub.address == address:
            return False
        return any(is_under(sub.address, d) for d in olds) or (cleanup_stale and is_ours(sub.address))

    async def step(client: AdminApiClient, target: LojaTarget, result: LojaResult) -> None:
        subs = await admin_api.list_webhook_subscriptions(client)
        if olds or cleanup_stale:
            subs = await remote_cleanup(client, result, subs, stale)
        await remote_configure(client, result, subs, address, force=force)

    summary = _run(run_remote(targets_for(lojas), step, concurrency=concurrency, on_done=on_done,
                              client_options=client_options))
    previous = _previous_statuses(summary.results)
    for result in summary.results:
        if result.ok:
            result.new_status, result.detalhes = _status_from_missing(result, previous.get(result.loja_id))
            if result.new_status == WebhookStatus.CONFIGURED:
                result.detalhes = (f"Webhooks configurados em {address}: {len(result.criados)} criado(s), "
                                   f"{len(result.mantidos)} já existia(m), {len(result.removidos)} removido(s).")
        elif result.assinaturas or result.criados:
            result.new_status = WebhookStatus.INCOMPLETE
            result.detalhes = f"Configuração incompleta: {result.erro}"
        else:
            result.new_status, result.detalhes = WebhookStatus.ERROR, f"Falha ao configurar: {result.erro}"
    if record:
        record_states(summary)
    mark_verified(r.loja_id for r in summary.results if r.ok)  # the loja's token opened its shop
    _log_summary("configure", summary)
    return summary


def webhooks_status(*, lojas: Iterable[Loja], base_domain: str | None = None,
                    concurrency: int = DEFAULT_CONCURRENCY, on_done=None, record: bool = True,
                    client_options: dict | None = None) -> RunSummary:
    """Per loja: the subscriptions Shopify has, which required topics are missing at the address, ok."""
    address = webhook_address(base_domain or settings.WEBHOOK_BASE_DOMAIN)

    async def step(client: AdminApiClient, target: LojaTarget, result: LojaResult) -> None:
        await remote_status(client, result, address)

    summary = _run(run_remote(targets_for(lojas), step, concurrency=concurrency, on_done=on_done,
                              client_options=client_options))
    previous = _previous_statuses(summary.results)
    for result in summary.results:
        if result.ok:
            result.new_status, result.detalhes = _status_from_missing(result, previous.get(result.loja_id))
        result.webhook_status = previous.get(result.loja_id)
    if record:
        record_states(summary)
    return summary


def test_connectivity(*, lojas: Iterable[Loja], base_domain: str | None = None, with_status: bool = False,
                      concurrency: int = DEFAULT_CONCURRENCY, on_done=None,
                      client_options: dict | None = None) -> RunSummary:
    """The `shop` query and its latency per loja; with_status also lists the subscriptions. Changes nothing."""
    address = webhook_address(base_domain or settings.WEBHOOK_BASE_DOMAIN)

    async def step(client: AdminApiClient, target: LojaTarget, result: LojaResult) -> None:
        await remote_connectivity(client, result)
        if with_status:
            await remote_status(client, result, address)

    summary = _run(run_remote(targets_for(lojas), step, concurrency=concurrency, on_done=on_done,
                              client_options=client_options))
    for result in summary.results:
        if result.conectado is None:
            result.conectado = False
    mark_verified(r.loja_id for r in summary.results if r.conectado)
    return summary


test_connectivity.__test__ = False  # not a pytest test, despite its name


def token_opens_shop(shop_domain: str, access_token: str, api_version: str = "") -> bool:
    """Does this token open this shop (the `shop` query answers)? For a loja not saved yet: the
    claim of a domain held by an unverified loja (chegouhub/stores/ownership.py)."""
    if not is_valid_api_version(api_version or settings.SHOPIFY_API_VERSION):
        return False
    candidate = Loja(shop_domain=shop_domain, access_token=access_token, api_version=api_version)
    (result,) = test_connectivity(lojas=[candidate]).results
    return bool(result.conectado)


def cleanup_webhooks(*, lojas: Iterable[Loja], base_domain: str, concurrency: int = DEFAULT_CONCURRENCY,
                     on_done=None, record: bool = True, client_options: dict | None = None) -> RunSummary:
    """Delete every subscription whose address is under `base_domain`, and nothing else."""
    old = normalize_base_domain(base_domain)
    current = webhook_address(settings.WEBHOOK_BASE_DOMAIN)

    async def step(client: AdminApiClient, target: LojaTarget, result: LojaResult) -> None:
        subs = await admin_api.list_webhook_subscriptions(client)
        remaining = await remote_cleanup(client, result, subs, lambda s: is_under(s.address, old))
        result.assinaturas = [s.as_dict() for s in remaining]
        result.topicos_ausentes, result.enderecos_errados = _required_state(remaining, current)

    summary = _run(run_remote(targets_for(lojas), step, concurrency=concurrency, on_done=on_done,
                              client_options=client_options))
    previous = _previous_statuses(summary.results)
    for result in summary.results:
        if result.ok and result.removidos:
            status, detalhes = _status_from_missing(result, previous.get(result.loja_id))
            result.new_status = status
            result.detalhes = f"{len(result.removidos)} webhook(s) sob {old} removido(s). {detalhes}"
    if record:
        record_states(summary)
    _log_summary("cleanup", summary)
    return summary


def _log_summary(action: str, summary: RunSummary) -> None:
    webhook_log.info(
        "webhook management run",
        extra={"action": action, "lojas": len(summary.results), "failed": len(summary.failed),
               "seconds": round(summary.seconds, 3)},
    )
