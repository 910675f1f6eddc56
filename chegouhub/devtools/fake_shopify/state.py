"""The fake Shopify's state and its GraphQL Admin API behaviour, transport-free.

Several shops at once, each with its own access token, its own leaky bucket (cost based, as
Shopify's), its webhook subscriptions, its orders, and a queue of failures that tests switch on.
Everything runs on one event loop, so no locks are needed.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
import math
import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    OperationType,
    execute,
    get_named_type,
    get_operation_ast,
    parse,
    validate,
)

from .catalog import Catalog, CatalogRoot
from .cost import CostCalculator
from .inventory import InventoryRoot
from .oauth import App, Grant, OAuthMixin
from .schema import VERSION_RE, schema_for, uses_uri

DEFAULT_BUCKET_SIZE = 1000.0
DEFAULT_RESTORE_RATE = 50.0
THROTTLE_MODES = ("graphql", "http429", "mixed")
FAILURE_KINDS = ("5xx", "timeout", "user_errors", "429", "auth", "internal_error", "throttled",
                 "idempotency_concurrent")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
SHOP_COUNTERS = (
    "requests", "throttled", "http429", "failures", "created", "deleted", "unauthorized",
    "graphql_calls", "cost_spent", "set_quantities_calls", "quantities_set", "stale", "idempotent_replays",
    "orders_placed", "orders_refused", "token_refreshes", "refreshes_refused", "expired_token_calls",
    "refreshes_with_previous_token",
)
MAX_ORDER_LINES = 100
_ids = itertools.count(1_000_001)


class OutOfStock(Exception):
    """A store that does not sell when out of stock refuses the whole order."""

    def __init__(self, variant_id: int, available: int, wanted: int):
        super().__init__(f"variant {variant_id}: {available} available, {wanted} wanted")
        self.variant_id, self.available, self.wanted = variant_id, available, wanted


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def topic_enum(topic: str) -> str:
    """`orders/paid` -> `ORDERS_PAID` (REST topic to GraphQL enum)."""
    return topic.strip().upper().replace("/", "_")


@dataclass
class Bucket:
    """Shopify's leaky bucket: `available` points, refilled at `restore_rate` per second."""

    maximum: float = DEFAULT_BUCKET_SIZE
    restore_rate: float = DEFAULT_RESTORE_RATE
    available: float = DEFAULT_BUCKET_SIZE
    updated: float = field(default_factory=time.monotonic)

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.updated) * self.restore_rate)
        self.updated = now

    def take(self, cost: float) -> bool:
        self.refill()
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def give_back(self, amount: float) -> None:
        self.refill()
        self.available = min(self.maximum, self.available + max(amount, 0))

    def status(self) -> dict:
        self.refill()
        return {
            "maximumAvailable": float(self.maximum),
            "currentlyAvailable": int(self.available),
            "restoreRate": float(self.restore_rate),
        }

    def seconds_until(self, cost: float) -> float:
        self.refill()
        return max(0.0, (cost - self.available) / self.restore_rate) if self.restore_rate else 60.0


@dataclass
class Failure:
    kind: str
    count: int = 1
    status: int = 503
    delay: float = 15.0
    retry_after: float = 1.0
    message: str = "Address cannot be a Shopify or an internal domain"
    field: list[str] | None = None
    operation: str | None = None  # for user_errors: which mutation (None: any)


@dataclass
class Subscription:
    id: int
    topic: str
    uri: str
    api_version: str
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    metafield_namespaces: list[str] = field(default_factory=list)
    filter: str | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)

    @property
    def gid(self) -> str:
        return f"gid://shopify/WebhookSubscription/{self.id}"

    def as_json(self) -> dict:
        return {"id": self.gid, "topic": self.topic, "uri": self.uri, "format": self.format,
                "api_version": self.api_version, "created_at": self.created_at}


@dataclass
class Shop:
    domain: str
    token: str
    name: str = ""
    bucket: Bucket = field(default_factory=Bucket)
    throttle_mode: str = "graphql"
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    orders: dict[int, dict] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    catalog: Catalog = field(default_factory=Catalog)
    # The token stops working after this many more Admin API requests (a merchant revoking the
    # app mid-import); None: never.
    revoke_after: int | None = None
    # The install flow's expiring tokens (token -> expires at, time.time()) and refresh tokens (the
    # same); `current_refresh` is the newest. `token` above is the non-expiring one, if any.
    expiring_tokens: dict[str, float] = field(default_factory=dict)
    refresh_tokens: dict[str, float] = field(default_factory=dict)
    current_refresh: str = ""
    refreshed_at: list[float] = field(default_factory=list)  # time.time() of each refresh (tests count them)
    scope: str = ""
    currency: str = "BRL"
    stats: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SHOP_COUNTERS, 0))
    # idempotency key -> (input fingerprint, expires at (monotonic), first answer)
    idempotency: dict[str, tuple[str, float, dict]] = field(default_factory=dict)
    _mixed: int = 0

    def as_json(self) -> dict:
        return {
            "shop": self.domain,
            "name": self.name,
            "throttle_mode": self.throttle_mode,
            "bucket": self.bucket.status(),
            "subscriptions": [s.as_json() for s in sorted(self.subscriptions.values(), key=lambda s: s.id)],
            "orders": len(self.orders),
            "variants": len(self.catalog.variants),
            "pending_failures": [f.__dict__ for f in self.failures],
            "stats": dict(self.stats),
            "token_refreshed_at": list(self.refreshed_at),
        }


@dataclass
class Reply:
    status: int
    body: Any  # JSON, or bytes/str sent as they are (HTML pages, JSONL files)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _cursor(key) -> str:
    return base64.b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def _uncursor(value: str | None):
    if not value:
        return None
    try:
        return json.loads(base64.b64decode(value.encode()))
    except Exception:
        raise GraphQLError("Invalid cursor for current pagination sort.") from None


def paginate(items: list, key, *, first=None, after=None, last=None, before=None, reverse=False) -> dict:
    """A Relay connection over items already sorted by `key`; cursors encode the sort key."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    if (first is not None and first > 250) or (last is not None and last > 250):
        raise GraphQLError("The connection size must be between 0 and 250.")
    ordered = list(reversed(items)) if reverse else list(items)
    keys = [tuple(key(i)) for i in ordered]

    def before_pos(k):
        return (lambda x: x < k) if not reverse else (lambda x: x > k)

    after_key, before_key = _uncursor(after), _uncursor(before)
    window = [(k, i) for k, i in zip(keys, ordered, strict=True)]
    if after_key is not None:
        after_key = tuple(after_key)
        window = [(k, i) for k, i in window if before_pos(k)(after_key)]
    if before_key is not None:
        before_key = tuple(before_key)
        window = [(k, i) for k, i in window if before_pos(before_key)(k)]
    has_next = has_prev = False
    if first is not None:
        has_next = len(window) > first
        window = window[:first]
        has_prev = after_key is not None
    elif last is not None:
        has_prev = len(window) > last
        window = window[-last:] if last else []
        has_next = before_key is not None
    edges = [{"cursor": _cursor(list(k)), "node": i} for k, i in window]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
        "_requested": first if first is not None else last,
        "_returned": len(edges),
    }


_QUERY_TERM = re.compile(r"(\w+):(>=|<=|>|<|=)?'?\"?([^'\"\s]+)'?\"?")


def filter_by_query(items: list[dict], query: str | None, fields: dict[str, str]) -> list[dict]:
    """Shopify search syntax, the subset used here: `updated_at:>'2025-01-01T00:00:00Z' AND ...`."""
    if not query:
        return items
    out = items
    for name, op, value in _QUERY_TERM.findall(query):
        attr = fields.get(name)
        if attr is None:
            continue
        op = op or "="

        def keep(item, attr=attr, op=op, value=value):
            have = str(item.get(attr) or "")
            if attr == "id":
                have, want = int(have or 0), int(value)
            else:
                have, want = _norm_time(have), _norm_time(value)
            return {"=": have == want, ">": have > want, ">=": have >= want, "<": have < want,
                    "<=": have <= want}[op]

        out = [i for i in out if keep(i)]
    return out


def _norm_time(value: str) -> str:
    """Comparable UTC ISO text (dates, `Z` or `+00:00` offsets)."""
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


class FakeShopify(OAuthMixin):
    def __init__(self, *, bucket_size: float = DEFAULT_BUCKET_SIZE, restore_rate: float = DEFAULT_RESTORE_RATE,
                 throttle_mode: str = "graphql", allow_http: bool = True):
        self.shops: dict[str, Shop] = {}
        self.default_bucket = (bucket_size, restore_rate)
        self.default_throttle_mode = throttle_mode
        self.allow_http = allow_http
        self.stats = dict.fromkeys(("requests", "throttled", "http429", "failures", "graphql_errors"), 0)
        self.apps: dict[str, App] = {}
        self.grants: dict[str, Grant] = {}
        # distinct across restarts of the fake, as the database that reads its orders outlives it
        self._order_ids = itertools.count(6_000_000_000_000 + (int(time.time() * 1000) % 10**9) * 1000)

    # --- control ------------------------------------------------------------------------------

    def add_shop(self, domain: str, token: str, *, name: str = "", bucket_size: float | None = None,
                 restore_rate: float | None = None, throttle_mode: str | None = None,
                 subscriptions: list[dict] | None = None, available: float | None = None,
                 bulk_rate: float | None = None, currency: str | None = None) -> Shop:
        domain = domain.strip().lower()
        size = float(bucket_size if bucket_size is not None else self.default_bucket[0])
        rate = float(restore_rate if restore_rate is not None else self.default_bucket[1])
        mode = throttle_mode or self.default_throttle_mode
        if mode not in THROTTLE_MODES:
            raise ValueError(f"throttle_mode must be one of {THROTTLE_MODES}")
        shop = self.shops.get(domain)
        if shop is None:
            shop = Shop(domain=domain, token=token, name=name or domain.split(".")[0],
                        bucket=Bucket(maximum=size, restore_rate=rate, available=size), throttle_mode=mode)
            self.shops[domain] = shop
        else:
            shop.token = token
            shop.name = name or shop.name
            shop.bucket = Bucket(maximum=size, restore_rate=rate, available=size)
            shop.throttle_mode = mode
        if available is not None:
            shop.bucket.available = min(float(available), size)
        if bulk_rate is not None:
            shop.catalog.bulk_rate = float(bulk_rate)
        if currency:
            shop.currency = str(currency).upper()
        for sub in subscriptions or []:
            self.add_subscription(shop, topic=sub["topic"], uri=sub["uri"])
        return shop

    def add_subscription(self, shop: Shop, *, topic: str, uri: str, api_version: str = "2025-10") -> Subscription:
        topic = topic_enum(topic) if "/" in topic else topic
        sub = Subscription(id=next(_ids), topic=topic, uri=uri, api_version=api_version)
        shop.subscriptions[sub.id] = sub
        return sub

    def add_failure(self, shop: Shop, spec: dict) -> Failure:
        if spec.get("kind") not in FAILURE_KINDS:
            raise ValueError(f"kind must be one of {FAILURE_KINDS}")
        failure = Failure(**{k: v for k, v in spec.items() if k in Failure.__dataclass_fields__})
        shop.failures.append(failure)
        return failure

    def upsert_order(self, shop: Shop, order: dict, *, take_stock: bool = False) -> dict:
        """A REST-shaped order (as the simulator builds them); refunds kept inside it."""
        order = dict(order)
        order_id = int(order["id"])
        existing = shop.orders.get(order_id)
        if take_stock and existing is None and not order.get("cancelled_at"):
            self._take_stock(shop, order)
        if existing is not None and not order.get("refunds"):
            order["refunds"] = existing.get("refunds", [])
        order.setdefault("created_at", (existing or {}).get("created_at") or now_iso())
        order["updated_at"] = now_iso()
        shop.orders[order_id] = order
        return order

    def _take_stock(self, shop: Shop, order: dict) -> None:
        """The order's lines off `available` at the primary location, matched by SKU (may go below 0)."""
        catalog = shop.catalog
        by_sku = {v.sku: v for v in catalog.variants.values() if v.sku}
        location = catalog.primary.id
        for line in order.get("line_items") or []:
            variant = by_sku.get(line.get("sku"))
            if variant is not None and location in variant.levels:
                variant.levels[location]["available"] -= int(line.get("current_quantity", line.get("quantity", 0)) or 0)

    def add_refund(self, shop: Shop, refund: dict) -> dict:
        order = shop.orders.get(int(refund["order_id"]))
        if order is None:
            raise KeyError("order not found")
        refunds = [r for r in order.get("refunds", []) if r.get("id") != refund.get("id")]
        refunds.append(refund)
        order["refunds"] = refunds
        order["updated_at"] = now_iso()
        return order

    def place_order(self, shop: Shop, lines: list[tuple[int, int]], *, location_id: int | None = None,
                    name: str | None = None) -> dict:
        """Sell like a store that stops selling when out of stock: every line's `available` at the
        location (the primary by default) must cover it, or nothing changes and OutOfStock is raised.
        Returns the order as the orders/paid webhook carries it (kept for reconciliation)."""
        from chegouhub.devtools.payloads import money_set, order_payload

        catalog = shop.catalog
        location = catalog.location(int(location_id)) if location_id is not None else catalog.primary
        if location is None:
            raise ValueError("unknown location")
        if not lines or len(lines) > MAX_ORDER_LINES:
            raise ValueError(f"an order has 1 to {MAX_ORDER_LINES} lines")
        wanted: dict[int, int] = {}
        for variant_id, quantity in lines:
            if int(quantity) <= 0:
                raise ValueError("quantity must be positive")
            if int(variant_id) not in catalog.variants:
                raise ValueError(f"unknown variant {variant_id}")
            wanted[int(variant_id)] = wanted.get(int(variant_id), 0) + int(quantity)
        for variant_id, quantity in wanted.items():
            level = catalog.variants[variant_id].levels.get(location.id)
            available = int(level["available"]) if level else 0
            if available < quantity:
                shop.stats["orders_refused"] += 1
                raise OutOfStock(variant_id, available, quantity)
        for variant_id, quantity in wanted.items():
            level = catalog.variants[variant_id].levels[location.id]
            level["available"] -= quantity  # sold, not shipped: on_hand stays, committed grows
            level["committed"] = level.get("committed", 0) + quantity

        from decimal import Decimal

        order_id = next(self._order_ids)
        variants = [(catalog.variants[int(v)], int(q)) for v, q in lines]
        total = sum((Decimal(v.price) * q for v, q in variants), Decimal(0))
        order = order_payload(order_id, [(order_id * 100 + i, v.sku, q) for i, (v, q) in enumerate(variants)],
                              name=name, total=(f"{total:.2f}", shop.currency))
        for item, (variant, quantity) in zip(order["line_items"], variants, strict=True):
            product = catalog.products[variant.product_id]
            price = f"{Decimal(variant.price):.2f}"
            item.update(variant_id=variant.id, product_id=variant.product_id, title=product.title,
                        variant_title=variant.title, name=f"{product.title} - {variant.title}", price=price,
                        price_set=money_set(price, shop.currency), total_discount="0.00",
                        total_discount_set=money_set("0.00", shop.currency), tax_lines=[], discount_allocations=[],
                        current_quantity=quantity, location_id=location.id)
        order.update(location_id=location.id, subtotal_price=f"{total:.2f}", total_tax="0.00", total_discounts="0.00",
                     current_total_price=f"{total:.2f}", current_total_price_set=money_set(f"{total:.2f}",
                                                                                          shop.currency))
        shop.stats["orders_placed"] += 1
        return self.upsert_order(shop, order)

    def set_level(self, shop: Shop, *, inventory_item_id: int, available: int, location_id: int | None = None) -> dict:
        """A merchant's edit in the admin: `available` set directly (on_hand by the same delta)."""
        catalog = shop.catalog
        variant = catalog.items.get(int(inventory_item_id))
        location = catalog.location(int(location_id)) if location_id is not None else catalog.primary
        if variant is None or location is None:
            raise ValueError("unknown inventory item or location")
        level = variant.levels.setdefault(location.id, {"available": 0, "on_hand": 0})
        delta = int(available) - int(level["available"])
        level["available"] += delta
        level["on_hand"] = int(level.get("on_hand", 0)) + delta
        return {"inventory_item_id": variant.inventory_item_id, "location_id": location.id, **level}

    def cancel_order(self, shop: Shop, order_id: int) -> dict:
        order = shop.orders[int(order_id)]
        order["cancelled_at"] = order.get("cancelled_at") or now_iso()
        order["cancel_reason"] = order.get("cancel_reason") or "customer"
        order["updated_at"] = now_iso()
        return order

    # --- the GraphQL endpoint -----------------------------------------------------------------

    def handle_graphql(self, *, shop_domain: str, version: str, token: str | None, body: bytes,
                       content_type: str = "application/json", base_url: str = "") -> Reply:
        self.stats["requests"] += 1
        if not VERSION_RE.match(version):
            return Reply(404, {"errors": "Not Found"})
        shop = self.shops.get(shop_domain.lower())
        if shop is None:
            return Reply(404, {"errors": "Not Found"})
        shop.stats["requests"] += 1
        headers = {"X-Shopify-API-Version": version, "X-Request-Id": f"fake-{shop.stats['requests']}"}

        failure = self._next_failure(shop, kinds=("5xx", "timeout", "429", "auth", "internal_error", "throttled"))
        if failure is not None:
            self.stats["failures"] += 1
            shop.stats["failures"] += 1
            if failure.kind == "5xx":
                return Reply(failure.status, {"errors": "Internal Server Error"}, headers)
            if failure.kind == "timeout":
                return Reply(504, {"errors": "Gateway Timeout"}, headers, delay=failure.delay)
            if failure.kind == "429":
                self.stats["http429"] += 1
                shop.stats["http429"] += 1
                return Reply(429, {"errors": "Exceeded the request limit. Reduce request rates to resume uninterrupted service."},
                             {**headers, "Retry-After": f"{failure.retry_after:.1f}"})
            if failure.kind == "internal_error":  # GraphQL's own: a 200 whose error says so
                return Reply(200, {"errors": [{"message": "Internal error. Looks like something went wrong on our "
                                                          "end.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]},
                             headers)
            if failure.kind == "throttled":  # another client of this app took the bucket: drained, THROTTLED
                shop.bucket.refill()
                shop.bucket.available = 0.0
                return self._throttled(shop, int(shop.bucket.maximum // 2), headers, mode="graphql")
            if failure.kind == "auth":
                shop.stats["unauthorized"] += 1
                return Reply(401, {"errors": INVALID_TOKEN}, headers)

        if shop.revoke_after is not None:
            if shop.revoke_after <= 0:
                self.uninstall(shop)  # revoked: no token works until the app is installed again
                shop.revoke_after = None
            else:
                shop.revoke_after -= 1
        if not token or not (token == shop.token or shop.expiring_tokens.get(token, 0) > time.time()):
            shop.stats["unauthorized"] += 1
            if token in shop.expiring_tokens:
                shop.stats["expired_token_calls"] += 1
            return Reply(401, {"errors": INVALID_TOKEN}, headers)

        if "json" in content_type:
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return Reply(400, {"errors": "Bad Request"}, headers)
            if not isinstance(payload, dict):
                return Reply(400, {"errors": "Bad Request"}, headers)
            source, variables = payload.get("query"), payload.get("variables") or {}
            operation_name = payload.get("operationName")
        else:  # application/graphql
            source, variables, operation_name = body.decode("utf-8", "replace"), {}, None
        if not isinstance(source, str) or not source.strip():
            return Reply(400, {"errors": {"query": "Required parameter missing or invalid"}}, headers)
        if not isinstance(variables, dict):
            return Reply(200, {"errors": [{"message": "Variables must be an object"}]}, headers)

        schema = schema_for(version)
        try:
            document, errors = _parsed(uses_uri(version), source)
        except GraphQLSyntaxError as exc:
            self.stats["graphql_errors"] += 1
            return Reply(200, {"errors": [_format_error(exc, code="PARSE_ERROR")]}, headers)
        if errors:
            self.stats["graphql_errors"] += 1
            return Reply(200, {"errors": [_format_error(e, code="undefinedField" if "Cannot query field" in e.message
                                                         else "VALIDATION_ERROR") for e in errors]}, headers)
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return Reply(200, {"errors": [{"message": "An operation name is required"}]}, headers)

        requested = CostCalculator(schema, document, variables).operation_cost(document, operation_name)
        bucket = shop.bucket
        if requested > bucket.maximum:
            return Reply(200, {
                "errors": [{"message": f"Query cost is {requested}, which exceeds the single query max cost limit "
                                       f"({int(bucket.maximum)}).",
                            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                           "maxCost": int(bucket.maximum)}}],
                "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                        "throttleStatus": bucket.status()}},
            }, headers)
        if not bucket.take(requested):
            return self._throttled(shop, requested, headers)

        context = {"shop": shop, "version": version, "refund": 0, "fake": self, "base_url": base_url}
        if operation.operation == OperationType.MUTATION:
            context["user_error"] = self._next_failure(shop, kinds=("user_errors",), peek_operation=operation)
        result = execute(schema, document, root_value=_Root(), context_value=context,
                         variable_values=variables, operation_name=operation_name)
        refund = min(context["refund"], requested)
        bucket.give_back(refund)
        shop.stats["graphql_calls"] += 1
        shop.stats["cost_spent"] += requested - refund
        out: dict = {}
        if result.errors:
            out["errors"] = [_format_error(e) for e in result.errors]
        out["data"] = result.data
        out["extensions"] = {"cost": {"requestedQueryCost": requested, "actualQueryCost": requested - refund,
                                      "throttleStatus": bucket.status()}}
        return Reply(200, out, headers)

    def _throttled(self, shop: Shop, requested: int, headers: dict, mode: str | None = None) -> Reply:
        mode = mode or shop.throttle_mode
        if mode == "mixed":
            shop._mixed += 1
            mode = "http429" if shop._mixed % 2 else "graphql"
        if mode == "http429":
            self.stats["http429"] += 1
            shop.stats["http429"] += 1
            wait = max(0.1, shop.bucket.seconds_until(requested))
            return Reply(429, {"errors": "Throttled"}, {**headers, "Retry-After": f"{math.ceil(wait * 10) / 10:.1f}"})
        self.stats["throttled"] += 1
        shop.stats["throttled"] += 1
        return Reply(200, {
            "errors": [{"message": "Throttled",
                        "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": None,
                                    "throttleStatus": shop.bucket.status()}},
        }, headers)

    def _next_failure(self, shop: Shop, *, kinds: tuple[str, ...], peek_operation=None) -> Failure | None:
        for failure in shop.failures:
            if failure.kind not in kinds:
                continue
            if failure.kind == "user_errors" and failure.operation and peek_operation is not None:
                names = {s.name.value for s in peek_operation.selection_set.selections if hasattr(s, "name")}
                if failure.operation not in names:
                    continue
            failure.count -= 1
            if failure.count <= 0:
                shop.failures.remove(failure)
            return failure
        return None

    # --- validation shared by create/update ---------------------------------------------------

    def address_errors(self, shop: Shop, uri: str | None, *, field_name: str, topic: str | None,
                       exclude_id: int | None = None) -> list[dict]:
        path = ["webhookSubscription", field_name]
        if not uri:
            return [{"field": path, "message": "Address can't be blank"}]
        if uri.startswith(("pubsub://", "arn:aws:events:")):
            return []
        parts = urlsplit(uri)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            return [{"field": path, "message": "Address is invalid"}]
        if parts.scheme == "http" and not self.allow_http:
            return [{"field": path, "message": "Address protocol http:// is not supported"}]
        host = parts.hostname.lower()
        if host.endswith(("myshopify.com", "shopify.com")):
            return [{"field": path, "message": "Address cannot be a Shopify or an internal domain"}]
        if topic is not None:
            for sub in shop.subscriptions.values():
                if sub.topic == topic and sub.uri == uri and sub.id != exclude_id:
                    return [{"field": path, "message": "Address for this topic has already been taken"}]
        return []


@functools.lru_cache(maxsize=512)
def _parsed(current: bool, source: str):
    """Parse and validate once per query text and schema variant (the AST is never mutated)."""
    schema = schema_for("2025-10" if current else "2025-07")
    document = parse(source)
    return document, tuple(validate(schema, document))


def _format_error(exc: GraphQLError, code: str | None = None) -> dict:
    out: dict = {"message": exc.message}
    if exc.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in exc.locations]
    if exc.path:
        out["path"] = list(exc.path)
    if code:
        out["extensions"] = {"code": code}
    return out


# --- resolvers --------------------------------------------------------------------------------


def _gid_number(value: str, kind: str) -> int | None:
    m = re.fullmatch(rf"gid://shopify/{kind}/(\d+)", str(value or ""))
    return int(m.group(1)) if m else None


def _subscription_node(sub: Subscription, version: str) -> dict:
    if sub.uri.startswith("pubsub://"):
        project, _, topic = sub.uri[len("pubsub://"):].partition(":")
        endpoint = {"__typename": "WebhookPubSubEndpoint", "pubSubProject": project, "pubSubTopic": topic}
    elif sub.uri.startswith("arn:"):
        endpoint = {"__typename": "WebhookEventBridgeEndpoint", "arn": sub.uri}
    else:
        endpoint = {"__typename": "WebhookHttpEndpoint", "callbackUrl": sub.uri}
    return {
        "id": sub.gid,
        "legacyResourceId": str(sub.id),
        "topic": sub.topic,
        "format": sub.format,
        "apiVersion": {"handle": sub.api_version, "displayName": sub.api_version, "supported": True},
        "createdAt": sub.created_at,
        "updatedAt": sub.updated_at,
        "includeFields": sub.include_fields,
        "metafieldNamespaces": sub.metafield_namespaces,
        "filter": sub.filter,
        "uri": sub.uri,
        "callbackUrl": sub.uri,
        "endpoint": endpoint,
    }


def _charge_connection(info, connection: dict) -> dict:
    """Refund what a connection did not return, as Shopify's actual cost does."""
    requested, returned = connection.pop("_requested"), connection.pop("_returned")
    if requested and returned < requested:
        named = get_named_type(info.return_type)
        calc = CostCalculator(info.schema, info.operation and _doc(info), info.variable_values)
        node_cost = calc.node_cost(named, info.field_nodes[0].selection_set)
        info.context["refund"] += (requested - returned) * node_cost
    return connection


def _doc(info):
    from graphql import DocumentNode

    return DocumentNode(definitions=[info.operation, *info.fragments.values()])


def _line_item_node(li: dict, removed: int = 0) -> dict:
    """As Shopify answers: `currentQuantity` is the quantity after edits and removals, and every
    refunded unit (restocked or not) is a removal."""
    qty = int(li.get("quantity") or 0)
    current = li.get("current_quantity")
    current = max((qty if current is None else int(current)) - removed, 0)
    return {
        "id": f"gid://shopify/LineItem/{li.get('id')}",
        "sku": li.get("sku") or None,
        "name": li.get("name") or li.get("title") or "",
        "title": li.get("title") or "",
        "quantity": qty,
        "currentQuantity": current,
        "refundableQuantity": current,
    }


def _refund_node(refund: dict, lines: dict) -> dict:
    items = refund.get("refund_line_items") or []

    def refund_line_items(info, first=None, after=None, last=None, before=None):
        nodes = [
            {
                "id": f"gid://shopify/RefundLineItem/{rli.get('id')}" if rli.get("id") is not None else None,
                "lineItem": _line_item_node(lines.get(rli.get("line_item_id")) or {"id": rli.get("line_item_id")}),
                "quantity": int(rli.get("quantity") or 0),
                "restockType": str(rli.get("restock_type") or "no_restock").upper(),
                "restocked": str(rli.get("restock_type") or "no_restock") != "no_restock",
                "_key": (index,),
            }
            for index, rli in enumerate(items)
        ]
        return _charge_connection(info, paginate(nodes, lambda n: list(n["_key"]), first=first, after=after,
                                                 last=last, before=before))

    return {
        "id": f"gid://shopify/Refund/{refund.get('id')}",
        "legacyResourceId": str(refund.get("id")),
        "createdAt": refund.get("processed_at") or refund.get("created_at"),
        "note": refund.get("note"),
        "totalRefundedSet": _refunded_set(refund),
        "refundLineItems": refund_line_items,
    }


def _money_bag(entry: dict | None, fallback_currency: str = "USD") -> dict:
    """A REST money set ({"shop_money": {"amount", "currency_code"}, ...}) as GraphQL's MoneyBag."""
    entry = entry or {}

    def money(side: str) -> dict:
        value = entry.get(side) or entry.get("shop_money") or {}
        return {"amount": str(value.get("amount", "0.00")), "currencyCode": value.get("currency_code",
                                                                                     fallback_currency)}

    return {"shopMoney": money("shop_money"), "presentmentMoney": money("presentment_money")}


def _refunded_set(refund: dict) -> dict:
    """What Shopify reports as a refund's total: its successful refund transactions."""
    from decimal import Decimal

    shop = presented = Decimal(0)
    currency = presented_currency = None
    for tx in refund.get("transactions") or []:
        if tx.get("kind") == "refund" and tx.get("status") == "success":
            amount_set = tx.get("amount_set") or {}
            shop += Decimal(str((amount_set.get("shop_money") or {}).get("amount", tx.get("amount", "0"))))
            presented += Decimal(str((amount_set.get("presentment_money") or {}).get("amount", tx.get("amount", "0"))))
            currency = (amount_set.get("shop_money") or {}).get("currency_code", tx.get("currency"))
            presented_currency = (amount_set.get("presentment_money") or {}).get("currency_code", currency)
    currency = currency or "USD"
    return {"shopMoney": {"amount": str(shop), "currencyCode": currency},
            "presentmentMoney": {"amount": str(presented), "currencyCode": presented_currency or currency}}


def _order_node(order: dict) -> dict:
    lines = {li.get("id"): li for li in order.get("line_items") or []}
    status = str(order.get("financial_status") or "").upper() or None

    removed: dict = {}
    for refund in order.get("refunds") or []:
        for rli in refund.get("refund_line_items") or []:
            removed[rli.get("line_item_id")] = removed.get(rli.get("line_item_id"), 0) + int(rli.get("quantity") or 0)

    def line_items(info, first=None, after=None, last=None, before=None, reverse=False):
        nodes = [dict(_line_item_node(li, removed.get(li.get("id"), 0)), _key=(i,))
                 for i, li in enumerate(order.get("line_items") or [])]
        return _charge_connection(info, paginate(nodes, lambda n: list(n["_key"]), first=first, after=after,
                                                 last=last, before=before, reverse=reverse))

    def refunds(info, first=None):
        items = [_refund_node(r, lines) for r in order.get("refunds") or []]
        items = items[:first] if first is not None else items
        if not items:  # charged once as an object: nothing returned, nothing owed
            named = get_named_type(info.return_type)
            calc = CostCalculator(info.schema, _doc(info), info.variable_values)
            info.context["refund"] += 1 + calc.selection_cost(named, info.field_nodes[0].selection_set)
        return items

    return {
        "id": f"gid://shopify/Order/{order['id']}",
        "legacyResourceId": str(order["id"]),
        "name": order.get("name") or f"#{order['id']}",
        "test": bool(order.get("test")),
        "createdAt": order.get("created_at"),
        "updatedAt": order.get("updated_at"),
        "processedAt": order.get("processed_at") or order.get("created_at"),
        "cancelledAt": order.get("cancelled_at"),
        "cancelReason": str(order["cancel_reason"]).upper() if order.get("cancel_reason") else None,
        "displayFinancialStatus": status,
        "totalPriceSet": _money_bag(order.get("total_price_set"), order.get("currency") or "USD"),
        "lineItems": line_items,
        "refunds": refunds,
    }


class _Root(CatalogRoot, InventoryRoot):
    """Root resolvers; the shop, version and user-error switch come in the context."""

    # queries

    def shop(self, info):
        shop: Shop = info.context["shop"]
        return {
            "id": f"gid://shopify/Shop/{zlib.crc32(shop.domain.encode())}",
            "name": shop.name,
            "myshopifyDomain": shop.domain,
            "email": f"owner@{shop.domain.split('.')[0]}.example",
            "currencyCode": shop.currency,
            "ianaTimezone": "America/Sao_Paulo",
            "plan": {"displayName": "Basic", "partnerDevelopment": False, "shopifyPlus": False},
            "primaryDomain": {"host": shop.domain, "url": f"https://{shop.domain}"},
            "createdAt": "2024-01-01T00:00:00Z",
        }

    def webhookSubscription(self, info, id):  # noqa: N802 (GraphQL name)
        shop: Shop = info.context["shop"]
        sub = shop.subscriptions.get(_gid_number(id, "WebhookSubscription") or -1)
        return _subscription_node(sub, info.context["version"]) if sub else None

    def webhookSubscriptions(self, info, first=None, after=None, last=None, before=None, reverse=False,  # noqa: N802
                             sortKey="CREATED_AT", topics=None, format=None, uri=None, callbackUrl=None,  # noqa: N803
                             query=None):
        shop: Shop = info.context["shop"]
        subs = sorted(shop.subscriptions.values(), key=lambda s: s.id)
        if topics:
            subs = [s for s in subs if s.topic in topics]
        if format:
            subs = [s for s in subs if s.format == format]
        address = uri or callbackUrl
        if address:
            subs = [s for s in subs if s.uri == address]
        nodes = [dict(_subscription_node(s, info.context["version"]), _key=(s.id,)) for s in subs]
        return _charge_connection(info, paginate(nodes, lambda n: list(n["_key"]), first=first, after=after,
                                                 last=last, before=before, reverse=reverse))

    def webhookSubscriptionsCount(self, info, query=None, limit=None):  # noqa: N802
        count = len(info.context["shop"].subscriptions)
        return {"count": min(count, limit) if limit else count, "precision": "EXACT"}

    def order(self, info, id):
        shop: Shop = info.context["shop"]
        order = shop.orders.get(_gid_number(id, "Order") or -1)
        return _order_node(order) if order else None

    def orders(self, info, first=None, after=None, last=None, before=None, reverse=False, sortKey="ID",  # noqa: N803
               query=None):
        shop: Shop = info.context["shop"]
        items = filter_by_query(list(shop.orders.values()), query,
                                {"updated_at": "updated_at", "created_at": "created_at", "id": "id"})
        sort_field = {"UPDATED_AT": "updated_at", "CREATED_AT": "created_at", "PROCESSED_AT": "created_at"}.get(sortKey)

        def key(o):
            return [_norm_time(str(o.get(sort_field) or "")) if sort_field else "", int(o["id"])]

        items.sort(key=key)
        nodes = [dict(_order_node(o), _key=key(o)) for o in items]
        return _charge_connection(info, paginate(nodes, lambda n: n["_key"], first=first, after=after, last=last,
                                                 before=before, reverse=reverse))

    # mutations

    def _user_error(self, info, name: str) -> list[dict] | None:
        failure: Failure | None = info.context.get("user_error")
        if failure is None or (failure.operation and failure.operation != name):
            return None
        info.context["user_error"] = None
        return [{"field": failure.field or ["webhookSubscription", "uri"], "message": failure.message}]

    def webhookSubscriptionCreate(self, info, topic, webhookSubscription):  # noqa: N802, N803
        shop: Shop = info.context["shop"]
        version = info.context["version"]
        forced = self._user_error(info, "webhookSubscriptionCreate")
        if forced:
            return {"userErrors": forced, "webhookSubscription": None}
        field_name = "uri" if uses_uri(version) else "callbackUrl"
        address = webhookSubscription.get(field_name)
        errors = info.context["fake"].address_errors(shop, address, field_name=field_name, topic=topic)
        if errors:
            return {"userErrors": errors, "webhookSubscription": None}
        sub = info.context["fake"].add_subscription(shop, topic=topic, uri=address, api_version=version)
        sub.format = webhookSubscription.get("format") or "JSON"
        sub.include_fields = list(webhookSubscription.get("includeFields") or [])
        sub.metafield_namespaces = list(webhookSubscription.get("metafieldNamespaces") or [])
        sub.filter = webhookSubscription.get("filter")
        shop.stats["created"] += 1
        return {"userErrors": [], "webhookSubscription": _subscription_node(sub, version)}

    def webhookSubscriptionUpdate(self, info, id, webhookSubscription):  # noqa: N802, N803
        shop: Shop = info.context["shop"]
        version = info.context["version"]
        forced = self._user_error(info, "webhookSubscriptionUpdate")
        if forced:
            return {"userErrors": forced, "webhookSubscription": None}
        sub = shop.subscriptions.get(_gid_number(id, "WebhookSubscription") or -1)
        if sub is None:
            return {"userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
                    "webhookSubscription": None}
        field_name = "uri" if uses_uri(version) else "callbackUrl"
        address = webhookSubscription.get(field_name)
        if address is not None:
            errors = info.context["fake"].address_errors(shop, address, field_name=field_name, topic=sub.topic,
                                                         exclude_id=sub.id)
            if errors:
                return {"userErrors": errors, "webhookSubscription": None}
            sub.uri = address
        sub.updated_at = now_iso()
        return {"userErrors": [], "webhookSubscription": _subscription_node(sub, version)}

    def webhookSubscriptionDelete(self, info, id):  # noqa: N802
        shop: Shop = info.context["shop"]
        forced = self._user_error(info, "webhookSubscriptionDelete")
        if forced:
            return {"userErrors": forced, "deletedWebhookSubscriptionId": None}
        number = _gid_number(id, "WebhookSubscription")
        if number is None or number not in shop.subscriptions:
            return {"userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
                    "deletedWebhookSubscriptionId": None}
        del shop.subscriptions[number]
        shop.stats["deleted"] += 1
        return {"userErrors": [], "deletedWebhookSubscriptionId": id}
