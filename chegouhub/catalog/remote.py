"""What the catalog import asks Shopify (GraphQL Admin API), and nothing about the database.

- `primary_location`, `list_locations`, `count_variants`;
- `variant_pages`: every variant, a page at a time, each page as large as the shop's bucket allows
  (a variant with its inventory level at the loja's location costs 4 points; a page at most 250);
- `bulk_variants`: the same variants through a bulk operation (`bulkOperationRunQuery`, polled
  with `node(id:)`), read as JSONL from the URL Shopify gives, without the token.

Both yield lists of `ShopifyVariant`. A `CostMeter` on the HTTP client adds up what the calls cost.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

from chegouhub.shopify.admin_api import AdminApiClient, ShopifyError, ShopifyQueryError, ShopifyUnavailable

NODE_COST = 4  # variant 1 + inventoryItem 1 + inventoryLevel 1 + quantities 1
MAX_PAGE = 250
DEFAULT_TITLE = "Default Title"
BULK_BATCH = 500
BULK_POLL_START, BULK_POLL_MAX = 0.25, 5.0
BULK_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class ShopifyVariant:
    variant_id: int
    inventory_item_id: int
    sku: str | None
    titulo: str
    disponivel: int | None  # `available` at the loja's location (None: not stocked there)


@dataclass
class CostMeter:
    """Points Shopify charged (actualQueryCost) over every GraphQL answer of one client."""

    points: float = 0.0
    answers: int = 0

    async def on_response(self, response: httpx.Response) -> None:
        if not response.request.url.path.endswith("/graphql.json") or response.status_code != 200:
            return
        await response.aread()
        try:
            cost = (response.json().get("extensions") or {}).get("cost") or {}
        except ValueError:
            return
        self.answers += 1
        self.points += float(cost.get("actualQueryCost") or 0)


def metered_http(meter: CostMeter) -> httpx.AsyncClient:
    return httpx.AsyncClient(event_hooks={"response": [meter.on_response]})


def legacy_id(gid: str | None) -> int | None:
    try:
        return int(str(gid).rsplit("/", 1)[-1])
    except (TypeError, ValueError):
        return None


def variant_title(display_name: str | None) -> str:
    """Shopify's `displayName` is "Product - Variant"; a product's only variant is "Default Title"."""
    name = (display_name or "").strip()
    suffix = f" - {DEFAULT_TITLE}"
    return (name[: -len(suffix)] if name.endswith(suffix) else name)[:255] or "Sem título"


def _available(node: dict) -> int | None:
    level = (node.get("inventoryItem") or {}).get("inventoryLevel")
    if not level:
        return None
    for q in level.get("quantities") or []:
        if q.get("name") == "available":
            return int(q.get("quantity") or 0)
    return None


def parse_variant(node: dict) -> ShopifyVariant | None:
    variant_id = legacy_id(node.get("id"))
    item_id = legacy_id((node.get("inventoryItem") or {}).get("id"))
    if variant_id is None or item_id is None:
        return None
    sku = node.get("sku")
    return ShopifyVariant(variant_id=variant_id, inventory_item_id=item_id,
                          sku=sku.strip() if isinstance(sku, str) and sku.strip() else None,
                          titulo=variant_title(node.get("displayName")), disponivel=_available(node))


# --- queries ------------------------------------------------------------------------------------

PRIMARY_LOCATION = "query ChegouhubPrimaryLocation { location { id name } }"
LOCATIONS = """query ChegouhubLocations { locations(first: 50) { nodes { id name isPrimary isActive } } }"""
COUNT = "query ChegouhubVariantCount { productVariantsCount(limit: null) { count precision } }"
_NODE = """id sku displayName inventoryItem { id inventoryLevel(locationId: $loc) {
  quantities(names: ["available"]) { name quantity } } }"""
PAGE = f"""query ChegouhubVariants($first: Int!, $after: String, $loc: ID!) {{
  productVariants(first: $first, after: $after) {{ nodes {{ {_NODE} }} pageInfo {{ hasNextPage endCursor }} }}
}}"""
BULK_RUN = """mutation ChegouhubBulkVariants($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id status } userErrors { field message } }
}"""
BULK_POLL = """query ChegouhubBulkStatus($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url } }
}"""
BULK_CURRENT = "query ChegouhubBulkCurrent { currentBulkOperation { id status } }"


def bulk_query(location_id: str) -> str:
    node = _NODE.replace("$loc", json.dumps(location_id))
    return f"{{ productVariants {{ edges {{ node {{ {node} }} }} }} }}"


async def primary_location(client: AdminApiClient) -> dict:
    data = await client.execute(PRIMARY_LOCATION, expected_cost=1)
    location = data.get("location")
    if not location or not location.get("id"):
        raise ShopifyQueryError("A Shopify não informou a location principal da loja.")
    return {"id": location["id"], "nome": location.get("name") or ""}


async def list_locations(client: AdminApiClient) -> list[dict]:
    data = await client.execute(LOCATIONS, expected_cost=52)
    return [{"id": n["id"], "nome": n.get("name") or "", "principal": bool(n.get("isPrimary"))}
            for n in (data.get("locations") or {}).get("nodes") or [] if n.get("isActive", True)]


async def count_variants(client: AdminApiClient) -> int:
    data = await client.execute(COUNT, expected_cost=1)
    return int((data.get("productVariantsCount") or {}).get("count") or 0)


def page_size_for(client: AdminApiClient) -> int:
    """As many variants as one query may cost in this shop's bucket (Shopify refuses a query that
    costs more than the bucket holds), at most 250."""
    maximum = client.throttle.maximum if client.throttle else 1000.0
    return max(1, min(MAX_PAGE, int((maximum - 2) // NODE_COST)))


async def variant_pages(client: AdminApiClient, *, location_id: str,
                        expected: int | None = None) -> AsyncIterator[list[ShopifyVariant]]:
    """`expected` (the count read before) trims the last page: Shopify charges the requested cost up
    front, so asking 250 for the last 3 would wait for points it then gives back."""
    after = None
    fetched = 0
    while True:
        first = page_size_for(client)
        if expected is not None and 0 < expected - fetched < first:
            first = expected - fetched
        data = await client.execute(PAGE, {"first": first, "after": after, "loc": location_id},
                                    expected_cost=2 + first * NODE_COST)
        connection = data.get("productVariants") or {}
        nodes = connection.get("nodes") or []
        fetched += len(nodes)
        batch = [v for v in (parse_variant(n) for n in nodes) if v is not None]
        if batch:
            yield batch
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage") or not page.get("endCursor"):
            return
        after = page["endCursor"]


async def _wait_for_running_bulk(client: AdminApiClient, sleep) -> None:
    """Another bulk query of this app (an import that died) is running: wait for it to end."""
    deadline = time.monotonic() + BULK_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        current = (await client.execute(BULK_CURRENT, expected_cost=1)).get("currentBulkOperation") or {}
        if current.get("status") not in ("CREATED", "RUNNING", "CANCELING"):
            return
        await sleep(BULK_POLL_MAX)
    raise ShopifyUnavailable("A operação em massa anterior da Shopify não terminou a tempo.")


async def run_bulk(client: AdminApiClient, *, location_id: str, sleep=asyncio.sleep,
                   on_poll: Callable[[int], None] | None = None) -> str | None:
    """Start the bulk query and poll it until done; returns the JSONL URL (None: no variants)."""
    for attempt in (1, 2):
        data = await client.execute(BULK_RUN, {"query": bulk_query(location_id)}, expected_cost=10)
        payload = data.get("bulkOperationRunQuery") or {}
        errors = payload.get("userErrors") or []
        if errors and attempt == 1 and any("in progress" in str(e.get("message", "")) for e in errors):
            await _wait_for_running_bulk(client, sleep)
            continue
        if errors:
            text = "; ".join(str(e.get("message", "")) for e in errors)
            raise ShopifyQueryError(f"A Shopify recusou a operação em massa do catálogo: {text}")
        operation = payload.get("bulkOperation") or {}
        break
    op_id = operation.get("id")
    if not op_id:
        raise ShopifyQueryError("A Shopify não devolveu a operação em massa criada.")
    interval = BULK_POLL_START
    deadline = time.monotonic() + BULK_TIMEOUT_SECONDS
    while True:
        node = (await client.execute(BULK_POLL, {"id": op_id}, expected_cost=1)).get("node") or {}
        status = node.get("status")
        if on_poll is not None:
            on_poll(int(node.get("objectCount") or 0))
        if status == "COMPLETED":
            return node.get("url")
        if status in ("FAILED", "CANCELED", "EXPIRED"):
            raise ShopifyError(f"A operação em massa da Shopify terminou como {status} "
                               f"({node.get('errorCode') or 'sem código'}).")
        if time.monotonic() > deadline:
            raise ShopifyUnavailable("A operação em massa da Shopify não terminou a tempo.")
        await sleep(interval)
        interval = min(BULK_POLL_MAX, interval * 2)


async def bulk_variants(client: AdminApiClient, *, location_id: str, sleep=asyncio.sleep,
                        on_poll: Callable[[int], None] | None = None) -> AsyncIterator[list[ShopifyVariant]]:
    url = await run_bulk(client, location_id=location_id, sleep=sleep, on_poll=on_poll)
    if not url:
        return
    # The result is a signed storage URL: fetched with a plain client, never with the token.
    async with httpx.AsyncClient(timeout=httpx.Timeout(60.0)) as http:
        try:
            async with http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise ShopifyUnavailable(f"O resultado da operação em massa não pôde ser baixado "
                                             f"(HTTP {response.status_code}).")
                batch: list[ShopifyVariant] = []
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    node = json.loads(line)
                    if "__parentId" in node:  # a nested connection's node; this query has none
                        continue
                    variant = parse_variant(node)
                    if variant is not None:
                        batch.append(variant)
                    if len(batch) >= BULK_BATCH:
                        yield batch
                        batch = []
                if batch:
                    yield batch
        except httpx.TransportError:
            raise ShopifyUnavailable("O download do resultado da operação em massa falhou.") from None
