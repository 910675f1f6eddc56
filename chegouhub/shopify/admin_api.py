"""Shopify's GraphQL Admin API, the part this project speaks: webhook subscriptions and `shop`.

One `AdminApiClient` per loja (Shopify's rate limit is per app and shop): httpx, the
`X-Shopify-Access-Token` header, the URL from `SHOPIFY_ADMIN_URL_TEMPLATE` with the loja's API
version or the settings default, a timeout on every call, retries with backoff on network
errors and 5xx, and throttling handled both ways Shopify throttles:

- HTTP 429, waiting as `Retry-After` says;
- HTTP 200 whose `errors[].extensions.code` is `THROTTLED`, waiting until the leaky bucket
  (`extensions.cost.throttleStatus`) holds the requested cost again.

A loja's expiring offline token (docs/tokens.md) comes from a `credential` (shopify/tokens.py):
asked before every request (it refreshes a token close to its expiry) and once more after a 401
(refreshed then, and the request retried once).

The client also remembers the last `throttleStatus` and waits *before* a call it can predict
would be throttled. Every error is a `ShopifyError` whose text is a clear sentence in the
contract's language, without the token or any other secret.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import httpx
from django.conf import settings

from chegouhub.common.apiversion import API_VERSION_MESSAGE, is_valid_api_version

from chegouhub.common.logging import register_secret, webhook_log
from chegouhub.stores.fields import credential_is_sendable

LIST_PAGE_SIZE = 50
BACKOFF_BASE = 0.5  # seconds before the first retry; doubles each time (with jitter), capped at 8 s
CREATE_COST = 10  # Shopify charges 10 points per mutation
USER_AGENT = "chegouhub-sync/0.1 (+webhook management)"
UNSENDABLE_TOKEN_MESSAGE = ("O access_token guardado desta loja tem caracteres que não podem ir à Shopify (só ASCII "
                            "visível); cadastre-o de novo.")


# --- errors ------------------------------------------------------------------------------------


class ShopifyError(Exception):
    """Base error; `str(exc)` is safe to show to the loja's owner and to log."""

    code = "erro"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class ShopifyAuthError(ShopifyError):
    code = "token_recusado"


class ShopifyReconnectRequired(ShopifyAuthError):
    """Shopify refused the loja's refresh token: only the install flow, run again, restores it."""

    code = "reconectar"


class ShopifyNotFound(ShopifyError):
    code = "loja_nao_encontrada"


class ShopifyUnavailable(ShopifyError):
    code = "shopify_indisponivel"
    retryable = True


class ShopifyThrottled(ShopifyError):
    code = "limite_de_requisicoes"
    retryable = True


class ShopifyQueryError(ShopifyError):
    code = "erro_graphql"


class ShopifyUserErrors(ShopifyError):
    """A mutation answered `userErrors`: Shopify refused the input."""

    code = "erro_de_validacao"

    def __init__(self, operation: str, user_errors: list[dict]):
        self.user_errors = user_errors
        text = "; ".join(_describe_user_error(e) for e in user_errors) or "erro sem descrição"
        super().__init__(f"A Shopify recusou {operation}: {text}")


def _describe_user_error(error: dict) -> str:
    message = str(error.get("message") or "").strip()
    path = error.get("field") or []
    where = ".".join(str(p) for p in path) if isinstance(path, list) else str(path)
    return f"{message} (campo {where})" if where else message


# --- topics and versions -----------------------------------------------------------------------


def topic_to_enum(topic: str) -> str:
    """`orders/paid` -> `ORDERS_PAID` (REST topic to the GraphQL WebhookSubscriptionTopic)."""
    return topic.strip().upper().replace("/", "_")


def enum_to_topic(value: str) -> str:
    """`ORDERS_PAID` -> `orders/paid`, `INVENTORY_LEVELS_UPDATE` -> `inventory_levels/update`."""
    resource, _, action = value.strip().lower().rpartition("_")
    return f"{resource}/{action}" if resource else action


URI_VERSION = "2025-10"


def uses_uri(version: str) -> bool:
    """`uri` from 2025-10 on (and `unstable`); `callbackUrl` before."""
    return version == "unstable" or version >= URI_VERSION


# --- the client --------------------------------------------------------------------------------


@dataclass
class ThrottleStatus:
    maximum: float
    available: float
    restore_rate: float
    observed_at: float = field(default_factory=time.monotonic)

    def estimated_available(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return min(self.maximum, self.available + (now - self.observed_at) * self.restore_rate)

    def wait_for(self, cost: float) -> float:
        """Seconds until the bucket holds `cost` points (0 if it already does)."""
        missing = cost - self.estimated_available()
        if missing <= 0 or self.restore_rate <= 0:
            return 0.0
        return missing / self.restore_rate

    @classmethod
    def from_extensions(cls, extensions) -> ThrottleStatus | None:
        try:
            status = extensions["cost"]["throttleStatus"]
            return cls(
                maximum=float(status["maximumAvailable"]),
                available=float(status["currentlyAvailable"]),
                restore_rate=float(status["restoreRate"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass
class CallStats:
    requests: int = 0
    throttled: int = 0  # 200 + THROTTLED
    http_429: int = 0
    retries: int = 0  # network errors and 5xx
    waited_seconds: float = 0.0


class AdminApiClient:
    """GraphQL Admin API calls for one shop. Use `async with` or call `aclose()`."""

    def __init__(
        self,
        *,
        shop_domain: str,
        access_token: str = "",
        api_version: str | None = None,
        credential=None,
        http: httpx.AsyncClient | None = None,
        timeout: float | None = None,
        max_attempts: int = 4,
        backoff_base: float | None = None,
        backoff_cap: float = 8.0,
        throttle_budget: float = 120.0,
        sleep=asyncio.sleep,
    ):
        self.shop_domain = shop_domain
        # `credential`: `access_token`, `async current()` (the token to use now, refreshed if close to
        # its expiry) and `async refreshed(stale)` (a new one after a 401, or None if it cannot be renewed).
        self.credential = credential
        self._token = credential.access_token if credential is not None else access_token
        register_secret(self._token)
        self.api_version = api_version or settings.SHOPIFY_API_VERSION
        if not is_valid_api_version(self.api_version):  # it is a path segment of the URL below
            raise ValueError(API_VERSION_MESSAGE)
        self.url = settings.SHOPIFY_ADMIN_URL_TEMPLATE.format(shop=shop_domain, version=self.api_version)
        self.timeout = httpx.Timeout(timeout if timeout is not None else settings.SHOPIFY_HTTP_TIMEOUT)
        self._http = http
        self._owns_http = http is None
        self.max_attempts = max_attempts
        self.backoff_base = BACKOFF_BASE if backoff_base is None else backoff_base
        self.backoff_cap = backoff_cap
        self.throttle_budget = throttle_budget
        self._sleep = sleep
        self.throttle: ThrottleStatus | None = None
        self.last_cost: dict | None = None  # `extensions.cost` of the last answer (what callers report)
        self.stats = CallStats()

    def __repr__(self) -> str:  # never the token
        return f"AdminApiClient(shop_domain={self.shop_domain!r}, api_version={self.api_version!r})"

    @property
    def uses_uri(self) -> bool:
        return uses_uri(self.api_version)

    async def __aenter__(self) -> AdminApiClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient()
        return self._http

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.stats.waited_seconds += seconds
            await self._sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)) * (0.75 + random.random() / 2)

    async def execute(self, query: str, variables: dict | None = None, *, expected_cost: float = 1.0) -> dict:
        """Run one GraphQL operation and return its `data`. Raises `ShopifyError`."""
        attempt = 0  # network errors and 5xx
        throttle_waited = 0.0
        renewed = False  # one refresh (and retry) per call after a 401
        while True:
            if self.credential is not None:
                self._token = await self.credential.current()
            if not credential_is_sendable(self._token):  # stored before input was checked: no header can carry it
                raise ShopifyAuthError(UNSENDABLE_TOKEN_MESSAGE)
            if self.throttle is not None and expected_cost <= self.throttle.maximum:
                pre_wait = self.throttle.wait_for(expected_cost)
                if pre_wait > 0:
                    throttle_waited += pre_wait
                    await self._wait(pre_wait)
            attempt += 1
            self.stats.requests += 1
            try:
                response = await self._client().post(
                    self.url,
                    json={"query": query, "variables": variables or {}},
                    headers={
                        "X-Shopify-Access-Token": self._token,
                        "Content-Type": "application/json",
                        "Accept": "application/json",
                        "User-Agent": USER_AGENT,
                    },
                    timeout=self.timeout,
                )
            except httpx.TransportError as exc:
                reason = "tempo esgotado" if isinstance(exc, httpx.TimeoutException) else "falha de rede"
                if attempt >= self.max_attempts:
                    raise ShopifyUnavailable(
                        f"A Shopify não respondeu ({reason}) após {attempt} tentativas."
                    ) from None
                self.stats.retries += 1
                self._log_retry(reason, attempt)
                await self._wait(self._backoff(attempt))
                continue

            status = response.status_code
            if status == 429:
                self.stats.http_429 += 1
                wait = _retry_after(response) or self._backoff(min(attempt, 4))
                throttle_waited += wait
                if throttle_waited > self.throttle_budget:
                    raise ShopifyThrottled(
                        "A Shopify continua limitando as requisições (HTTP 429) desta loja; tente mais tarde.",
                        status=429,
                    )
                attempt -= 1  # a throttle is not a failed attempt
                await self._wait(wait)
                continue
            if status >= 500:
                if attempt >= self.max_attempts:
                    raise ShopifyUnavailable(
                        f"A Shopify respondeu com erro {status} após {attempt} tentativas.", status=status
                    )
                self.stats.retries += 1
                self._log_retry(f"http {status}", attempt)
                await self._wait(_retry_after(response) or self._backoff(attempt))
                continue
            if status == 401 and self.credential is not None and not renewed:
                renewed = True
                stale, self._token = self._token, (await self.credential.refreshed(self._token)) or self._token
                if self._token != stale:
                    attempt -= 1  # the same request with the new token
                    continue
            if status in (401, 403):
                raise ShopifyAuthError(
                    "A Shopify recusou o token de acesso da loja (HTTP %d): verifique o token e as permissões "
                    "do app (read/write de webhooks)." % status,
                    status=status,
                )
            if status == 402:
                raise ShopifyError("A loja está congelada na Shopify (HTTP 402: pagamento pendente).", status=402)
            if status == 404:
                raise ShopifyNotFound(
                    "A Shopify não encontrou a loja ou a versão da API (HTTP 404); confira o domínio "
                    f"{self.shop_domain} e a versão {self.api_version}.",
                    status=404,
                )
            if status == 423:
                raise ShopifyError("A loja está bloqueada na Shopify (HTTP 423).", status=423)
            if status >= 400:
                raise ShopifyError(f"A Shopify recusou a requisição (HTTP {status}).", status=status)

            try:
                body = response.json()
            except ValueError:
                if attempt >= self.max_attempts:
                    raise ShopifyUnavailable("A Shopify respondeu algo que não é JSON.", status=status) from None
                self.stats.retries += 1
                await self._wait(self._backoff(attempt))
                continue
            if not isinstance(body, dict):
                raise ShopifyQueryError("A Shopify respondeu um JSON inesperado.", status=status)

            extensions = body.get("extensions") or {}
            self.last_cost = extensions.get("cost") if isinstance(extensions, dict) else None
            observed = ThrottleStatus.from_extensions(extensions)
            if observed is not None:
                self.throttle = observed
            errors = body.get("errors")
            if errors:
                if _is_throttled(errors):
                    self.stats.throttled += 1
                    requested = _requested_cost(extensions) or expected_cost
                    wait = self.throttle.wait_for(requested) if self.throttle else self._backoff(min(attempt, 4))
                    wait = max(wait, 0.05)
                    throttle_waited += wait
                    if throttle_waited > self.throttle_budget:
                        raise ShopifyThrottled(
                            "A Shopify continua limitando as requisições (THROTTLED) desta loja; tente mais tarde."
                        )
                    attempt -= 1
                    await self._wait(wait)
                    continue
                if _has_code(errors, "INTERNAL_SERVER_ERROR"):  # Shopify's transient failure inside a 200
                    if attempt >= self.max_attempts:
                        raise ShopifyUnavailable(
                            f"A Shopify respondeu com erro interno após {attempt} tentativas.", status=status
                        )
                    self.stats.retries += 1
                    self._log_retry("graphql INTERNAL_SERVER_ERROR", attempt)
                    await self._wait(self._backoff(attempt))
                    continue
                raise ShopifyQueryError("A Shopify recusou a consulta GraphQL: " + _describe_errors(errors))
            data = body.get("data")
            if not isinstance(data, dict):
                raise ShopifyQueryError("A Shopify respondeu sem dados.")
            return data

    def _log_retry(self, reason: str, attempt: int) -> None:
        webhook_log.warning(
            "shopify admin api retry",
            extra={"shop_domain": self.shop_domain, "reason": reason, "attempt": attempt},
        )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), 60.0)
    except ValueError:
        return None


def _is_throttled(errors) -> bool:
    if not isinstance(errors, list):
        return False
    for error in errors:
        if isinstance(error, dict):
            ext = error.get("extensions") or {}
            if ext.get("code") == "THROTTLED" or error.get("message") == "Throttled":
                return True
    return False


def _has_code(errors, code: str) -> bool:
    return isinstance(errors, list) and any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == code for e in errors
    )


def _requested_cost(extensions: dict) -> float | None:
    try:
        return float(extensions["cost"]["requestedQueryCost"])
    except (KeyError, TypeError, ValueError):
        return None


def _describe_errors(errors) -> str:
    if isinstance(errors, str):
        return errors[:500]
    if isinstance(errors, list):
        texts = [str(e.get("message", e))[:300] if isinstance(e, dict) else str(e)[:300] for e in errors[:5]]
        return "; ".join(texts)
    return str(errors)[:500]


# --- operations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookSubscription:
    id: str
    topic: str  # REST form: orders/paid
    address: str  # the uri / callbackUrl

    def as_dict(self) -> dict:
        return {"id": self.id, "topic": self.topic, "endereco": self.address}


SHOP_QUERY = """
query ChegouhubShop {
  shop {
    id
    name
    myshopifyDomain
    currencyCode
    plan { displayName }
  }
}
"""

_LIST_URI = """
query ChegouhubWebhooks($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    edges { node { id topic uri } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

_LIST_LEGACY = """
query ChegouhubWebhooks($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    edges { node { id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

_CREATE_URI = """
mutation ChegouhubWebhookCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic uri }
    userErrors { field message }
  }
}
"""

_CREATE_LEGACY = """
mutation ChegouhubWebhookCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
    userErrors { field message }
  }
}
"""

DELETE_MUTATION = """
mutation ChegouhubWebhookDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}
"""


def _address_of(node: dict) -> str:
    if node.get("uri"):
        return node["uri"]
    endpoint = node.get("endpoint") or {}
    if endpoint.get("callbackUrl"):
        return endpoint["callbackUrl"]
    if endpoint.get("arn"):
        return endpoint["arn"]
    if endpoint.get("pubSubProject"):
        return f"pubsub://{endpoint['pubSubProject']}:{endpoint.get('pubSubTopic', '')}"
    return ""


def _subscription(node: dict) -> WebhookSubscription:
    return WebhookSubscription(id=str(node["id"]), topic=enum_to_topic(str(node["topic"])), address=_address_of(node))


async def fetch_shop(client: AdminApiClient) -> dict:
    data = await client.execute(SHOP_QUERY, expected_cost=2)
    shop = data.get("shop") or {}
    return {
        "id": shop.get("id"),
        "nome": shop.get("name"),
        "myshopify_domain": shop.get("myshopifyDomain"),
        "moeda": shop.get("currencyCode"),
        "plano": (shop.get("plan") or {}).get("displayName"),
    }


async def list_webhook_subscriptions(client: AdminApiClient, *, page_size: int = LIST_PAGE_SIZE
                                     ) -> list[WebhookSubscription]:
    """Every subscription this app has on the shop, following `pageInfo` to the end."""
    query = _LIST_URI if client.uses_uri else _LIST_LEGACY
    node_cost = 1 if client.uses_uri else 2
    subscriptions: list[WebhookSubscription] = []
    after = None
    for _ in range(1000):  # a bound, not a limit anyone should reach
        data = await client.execute(query, {"first": page_size, "after": after},
                                    expected_cost=2 + page_size * node_cost)
        connection = data.get("webhookSubscriptions") or {}
        subscriptions += [_subscription(edge["node"]) for edge in connection.get("edges") or []]
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage") or not page.get("endCursor"):
            break
        after = page["endCursor"]
    return subscriptions


async def create_webhook_subscription(client: AdminApiClient, *, topic: str, address: str) -> WebhookSubscription:
    key = "uri" if client.uses_uri else "callbackUrl"
    data = await client.execute(
        _CREATE_URI if client.uses_uri else _CREATE_LEGACY,
        {"topic": topic_to_enum(topic), "webhookSubscription": {key: address, "format": "JSON"}},
        expected_cost=CREATE_COST,
    )
    payload = data.get("webhookSubscriptionCreate") or {}
    if payload.get("userErrors"):
        raise ShopifyUserErrors(f"a criação do webhook {topic}", payload["userErrors"])
    node = payload.get("webhookSubscription")
    if not node:
        raise ShopifyQueryError(f"A Shopify não devolveu o webhook {topic} criado.")
    return _subscription(node)


async def delete_webhook_subscription(client: AdminApiClient, subscription: WebhookSubscription) -> None:
    data = await client.execute(DELETE_MUTATION, {"id": subscription.id}, expected_cost=CREATE_COST)
    payload = data.get("webhookSubscriptionDelete") or {}
    if payload.get("userErrors"):
        raise ShopifyUserErrors(f"a remoção do webhook {subscription.topic}", payload["userErrors"])


# --- orders (for reconciliation) ----------------------------------------------------------------

# 2 + 10 x (1 + totalPriceSet 3 + lineItems 2+50 + refunds 1 + totalRefundedSet 3 + refundLineItems 2+10x2) = 822
ORDERS_PAGE_SIZE = 10

ORDERS_QUERY = """
query ChegouhubOrders($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    edges {
      node {
        legacyResourceId
        name
        updatedAt
        processedAt
        cancelledAt
        totalPriceSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
        lineItems(first: 50) { nodes { id sku quantity currentQuantity } }
        refunds(first: 10) {
          legacyResourceId
          createdAt
          totalRefundedSet { shopMoney { amount currencyCode } presentmentMoney { amount currencyCode } }
          refundLineItems(first: 10) { nodes { quantity restockType lineItem { id } } }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def _legacy_id(gid: str | None) -> int | None:
    try:
        return int(str(gid).rsplit("/", 1)[-1])
    except (TypeError, ValueError):
        return None


def _money_set(bag: dict | None) -> dict | None:
    """GraphQL's MoneyBag as REST's money set (what chegouhub.sales.money reads)."""
    if not isinstance(bag, dict):
        return None
    return {side: {"amount": (bag.get(key) or {}).get("amount"), "currency_code": (bag.get(key) or {}).get("currencyCode")}
            for side, key in (("shop_money", "shopMoney"), ("presentment_money", "presentmentMoney"))}


def _refund_transactions(refund: dict) -> list[dict]:
    """A refund's `totalRefundedSet` as the one successful refund transaction REST would list."""
    amount = _money_set(refund.get("totalRefundedSet"))
    try:
        returned = float(amount["shop_money"]["amount"]) if amount else 0  # only whether it is zero
    except (TypeError, ValueError):
        returned = 0
    # Nothing returned is no transaction (as the webhook of such a refund carries none).
    return [{"kind": "refund", "status": "success", "amount_set": amount}] if returned else []


def order_facts(node: dict) -> dict:
    """A GraphQL Order as the REST-shaped facts the ledger reads (ids, SKUs, quantities, restocks, values)."""
    return {
        "id": int(node["legacyResourceId"]),
        "name": node.get("name"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "total_price_set": _money_set(node.get("totalPriceSet")),
        "line_items": [
            {"id": _legacy_id(li.get("id")), "sku": li.get("sku"), "quantity": li.get("quantity"),
             "current_quantity": li.get("currentQuantity")}
            for li in ((node.get("lineItems") or {}).get("nodes") or [])
        ],
        "refunds": [
            {
                "id": int(refund["legacyResourceId"]),
                "order_id": int(node["legacyResourceId"]),
                "processed_at": refund.get("createdAt"),
                "transactions": _refund_transactions(refund),
                "refund_line_items": [
                    {"line_item_id": _legacy_id((rli.get("lineItem") or {}).get("id")), "quantity": rli.get("quantity"),
                     "restock_type": str(rli.get("restockType") or "").lower()}
                    for rli in ((refund.get("refundLineItems") or {}).get("nodes") or [])
                ],
            }
            for refund in node.get("refunds") or []
        ],
    }


async def fetch_orders_updated_since(client: AdminApiClient, since: str, *, page_size: int = ORDERS_PAGE_SIZE,
                                     limit: int | None = None, query: str = ORDERS_QUERY,
                                     facts=order_facts) -> list[dict]:
    """Orders updated at or after `since` (ISO 8601), oldest first, as REST-shaped facts.

    `query` may add scalar fields to ORDERS_QUERY (same cost) and `facts` read them from each node.
    """
    orders: list[dict] = []
    after = None
    while True:
        data = await client.execute(
            query, {"first": page_size, "after": after, "query": f"updated_at:>='{since}'"},
            expected_cost=2 + page_size * 76,
        )
        connection = data.get("orders") or {}
        orders += [facts(edge["node"]) for edge in connection.get("edges") or []]
        page = connection.get("pageInfo") or {}
        if (limit is not None and len(orders) >= limit) or not page.get("hasNextPage") or not page.get("endCursor"):
            return orders[:limit] if limit is not None else orders
        after = page["endCursor"]
