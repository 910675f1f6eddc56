"""The fake Shopify's catalog: products, variants with SKUs and inventory items, locations with
`available`/`on_hand` per location, and bulk operations whose JSONL result the fake serves.

Shaped like the GraphQL Admin API: `products`, `productVariants` (cursor pagination, at most 250 a
page, cost per node), `productVariantsCount`, `locations`, `location` (no id: the primary one),
`InventoryItem.inventoryLevel(locationId:)` with `quantities(names:)`, `bulkOperationRunQuery`
(one query at a time per shop; CREATED -> RUNNING -> COMPLETED at `bulk_rate` objects per second),
`currentBulkOperation` and `node(id:)` for polling, and a result URL (no token needed, like the
signed storage URL Shopify hands out).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time
from dataclasses import dataclass, field

from graphql import GraphQLError, parse, validate

SDL = """
interface Node { id: ID! }

enum ProductStatus { ACTIVE ARCHIVED DRAFT }
enum BulkOperationStatus { CANCELED CANCELING COMPLETED CREATED EXPIRED FAILED RUNNING }
enum BulkOperationErrorCode { ACCESS_DENIED INTERNAL_SERVER_ERROR TIMEOUT }
enum BulkOperationType { MUTATION QUERY }
enum BulkOperationUserErrorCode { INVALID OPERATION_IN_PROGRESS }

type Location implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  isActive: Boolean!
  isPrimary: Boolean!
  fulfillsOnlineOrders: Boolean!
}
type LocationEdge { cursor: String! node: Location! }
type LocationConnection { edges: [LocationEdge!]! nodes: [Location!]! pageInfo: PageInfo! }

type InventoryQuantity { id: ID! name: String! quantity: Int! updatedAt: DateTime }
type InventoryLevel implements Node {
  id: ID!
  location: Location!
  quantities(names: [String!]!): [InventoryQuantity!]!
}
type InventoryLevelEdge { cursor: String! node: InventoryLevel! }
type InventoryLevelConnection { edges: [InventoryLevelEdge!]! nodes: [InventoryLevel!]! pageInfo: PageInfo! }

type InventoryItem implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  tracked: Boolean!
  inventoryLevel(locationId: ID!): InventoryLevel
  inventoryLevels(first: Int, after: String, last: Int, before: String): InventoryLevelConnection!
}

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  sku: String
  title: String!
  displayName: String!
  price: String!
  inventoryQuantity: Int
  product: Product!
  inventoryItem: InventoryItem!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { edges: [ProductVariantEdge!]! nodes: [ProductVariant!]! pageInfo: PageInfo! }

type Product implements Node {
  id: ID!
  legacyResourceId: UnsignedInt64!
  title: String!
  handle: String!
  status: ProductStatus!
  variants(first: Int, after: String, last: Int, before: String): ProductVariantConnection!
}
type ProductEdge { cursor: String! node: Product! }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! }

type BulkOperation implements Node {
  id: ID!
  status: BulkOperationStatus!
  errorCode: BulkOperationErrorCode
  type: BulkOperationType!
  createdAt: DateTime!
  completedAt: DateTime
  objectCount: UnsignedInt64!
  rootObjectCount: UnsignedInt64!
  fileSize: UnsignedInt64
  url: URL
  partialDataUrl: URL
  query: String!
}
type BulkOperationUserError { code: BulkOperationUserErrorCode field: [String!] message: String! }
type BulkOperationRunQueryPayload { bulkOperation: BulkOperation userErrors: [BulkOperationUserError!]! }

extend type QueryRoot {
  products(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
           query: String): ProductConnection!
  productsCount(query: String, limit: Int): Count
  productVariants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false,
                  query: String): ProductVariantConnection!
  productVariantsCount(query: String, limit: Int): Count
  locations(first: Int, after: String, last: Int, before: String, includeInactive: Boolean = false): LocationConnection!
  location(id: ID): Location
  currentBulkOperation(type: BulkOperationType = QUERY): BulkOperation
  node(id: ID!): Node
}

extend type Mutation {
  bulkOperationRunQuery(query: String!): BulkOperationRunQueryPayload
}
"""

DEFAULT_BULK_RATE = 5000.0  # objects per second a bulk query writes
_ids = itertools.count(9_000_001)


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str | None
    title: str
    inventory_item_id: int
    price: str = "10.00"
    # location id -> {"available": n, "on_hand": n}
    levels: dict[int, dict[str, int]] = field(default_factory=dict)

    def as_json(self, location_id: int | None = None) -> dict:
        level = self.levels.get(location_id, {}) if location_id is not None else {}
        return {"id": self.id, "product_id": self.product_id, "sku": self.sku, "title": self.title,
                "inventory_item_id": self.inventory_item_id, "available": level.get("available", 0),
                "on_hand": level.get("on_hand", 0)}


@dataclass
class Product:
    id: int
    title: str
    variant_ids: list[int] = field(default_factory=list)


@dataclass
class Location:
    id: int
    name: str
    primary: bool = False
    active: bool = True


@dataclass
class BulkOperation:
    id: int
    query: str
    created: float
    ready_at: float
    lines: bytes
    object_count: int
    root_count: int
    failed: str | None = None  # an errorCode


@dataclass
class Catalog:
    products: dict[int, Product] = field(default_factory=dict)
    variants: dict[int, Variant] = field(default_factory=dict)
    locations: list[Location] = field(default_factory=lambda: [
        Location(id=next(_ids), name="Depósito principal", primary=True),
        Location(id=next(_ids), name="Loja física"),
    ])
    bulk_rate: float = DEFAULT_BULK_RATE
    bulk_operations: dict[int, BulkOperation] = field(default_factory=dict)
    items: dict[int, Variant] = field(default_factory=dict)  # by inventory item id

    @property
    def primary(self) -> Location:
        return next((loc for loc in self.locations if loc.primary), self.locations[0])

    def location(self, location_id: int | None) -> Location | None:
        return next((loc for loc in self.locations if loc.id == location_id), None)

    def add_product(self, title: str, variants: list[dict]) -> Product:
        product = Product(id=next(_ids), title=title)
        self.products[product.id] = product
        for spec in variants or [{}]:
            variant = Variant(id=next(_ids), product_id=product.id, sku=spec.get("sku"),
                              title=spec.get("title") or "Default Title", inventory_item_id=next(_ids),
                              price=str(spec.get("price", "10.00")))
            available = spec.get("available", 0)
            if isinstance(available, dict):  # {"<location id>" or "primary": n}
                for key, qty in available.items():
                    loc = self.primary.id if key == "primary" else int(key)
                    variant.levels[loc] = {"available": int(qty), "on_hand": int(qty)}
            else:
                variant.levels[self.primary.id] = {"available": int(available),
                                                   "on_hand": int(spec.get("on_hand", available))}
            self.variants[variant.id] = variant
            self.items[variant.inventory_item_id] = variant
            product.variant_ids.append(variant.id)
        return product

    def generate(self, *, variants: int, per_product: int = 4, sem_sku_every: int = 0, prefix: str = "SKU",
                 seed: int = 1, start: int = 1) -> int:
        """`variants` variants in products of `per_product`; every `sem_sku_every`-th has no SKU."""
        rnd = random.Random(seed)
        sizes = ["P", "M", "G", "GG", "XG", "XXG"]
        made = 0
        n = start
        while made < variants:
            count = min(per_product, variants - made)
            specs = []
            for i in range(count):
                no_sku = sem_sku_every and n % sem_sku_every == 0
                specs.append({"sku": None if no_sku else f"{prefix}-{n:06d}",
                              "title": sizes[i % len(sizes)] if count > 1 else "Default Title",
                              "available": rnd.randint(0, 40)})
                n += 1
            self.add_product(f"Produto {prefix} {n - count:06d}", specs)
            made += count
        return made

    def as_json(self) -> dict:
        primary = self.primary.id
        return {
            "products": len(self.products),
            "locations": [{"id": gid("Location", loc.id), "name": loc.name, "primary": loc.primary}
                          for loc in self.locations],
            "variants": [{**v.as_json(primary), "display_name": f"{self.products[v.product_id].title} - {v.title}"}
                         for v in self.variants.values()],
        }


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value, kind: str | None = None) -> tuple[str, int] | None:
    m = re.fullmatch(r"gid://shopify/(\w+)/(\d+)", str(value or ""))
    if not m or (kind and m.group(1) != kind):
        return None
    return m.group(1), int(m.group(2))


# --- nodes ------------------------------------------------------------------------------------


def location_node(loc: Location) -> dict:
    return {"__typename": "Location", "id": gid("Location", loc.id), "legacyResourceId": str(loc.id),
            "name": loc.name, "isActive": loc.active, "isPrimary": loc.primary, "fulfillsOnlineOrders": loc.primary}


def _level_node(catalog: Catalog, variant: Variant, loc: Location) -> dict:
    level = variant.levels.get(loc.id, {"available": 0, "on_hand": 0})

    def quantities(info, names):
        return [{"id": f"gid://shopify/InventoryQuantity/{variant.inventory_item_id}-{loc.id}-{name}", "name": name,
                 "quantity": int(level.get(name, 0)), "updatedAt": None} for name in names]

    return {"__typename": "InventoryLevel", "id": f"gid://shopify/InventoryLevel/{variant.inventory_item_id}"
            f"?inventory_item_id={variant.inventory_item_id}&location_id={loc.id}",
            "location": location_node(loc), "quantities": quantities}


def inventory_item_node(catalog: Catalog, variant: Variant) -> dict:
    def inventory_level(info, locationId):  # noqa: N803 (GraphQL name)
        found = gid_number(locationId, "Location")
        loc = catalog.location(found[1]) if found else None
        return _level_node(catalog, variant, loc) if loc and loc.id in variant.levels else None

    def inventory_levels(info, first=None, after=None, last=None, before=None):
        from .state import _charge_connection, paginate

        locs = [loc for loc in catalog.locations if loc.id in variant.levels]
        conn = paginate(locs, lambda loc: [loc.id], first=first, after=after, last=last, before=before)
        _nodes(conn, lambda loc: _level_node(catalog, variant, loc))
        return _charge_connection(info, conn)

    return {
        "__typename": "InventoryItem",
        "id": gid("InventoryItem", variant.inventory_item_id),
        "legacyResourceId": str(variant.inventory_item_id),
        "sku": variant.sku,
        "tracked": True,
        "inventoryLevel": inventory_level,
        "inventoryLevels": inventory_levels,
    }


def variant_node(catalog: Catalog, variant: Variant, *, with_product: bool = True) -> dict:
    product = catalog.products[variant.product_id]
    return {
        "__typename": "ProductVariant",
        "id": gid("ProductVariant", variant.id),
        "legacyResourceId": str(variant.id),
        "sku": variant.sku,
        "title": variant.title,
        "displayName": f"{product.title} - {variant.title}",
        "price": variant.price,
        "inventoryQuantity": sum(level.get("available", 0) for level in variant.levels.values()),
        "product": (lambda info: product_node(catalog, product)) if with_product else None,
        "inventoryItem": lambda info: inventory_item_node(catalog, variant),
    }


def product_node(catalog: Catalog, product: Product) -> dict:
    def variants(info, first=None, after=None, last=None, before=None):
        from .state import _charge_connection

        items = [catalog.variants[v] for v in product.variant_ids]
        conn = _bulk_or_paginate(info, items, first=first, after=after, last=last, before=before)
        _nodes(conn, lambda v: variant_node(catalog, v))
        return _charge_connection(info, conn) if not info.context.get("bulk") else conn

    handle = re.sub(r"[^a-z0-9]+", "-", product.title.lower()).strip("-")
    return {"__typename": "Product", "id": gid("Product", product.id), "legacyResourceId": str(product.id),
            "title": product.title, "handle": handle, "status": "ACTIVE", "variants": variants}


def _nodes(conn: dict, make) -> None:
    """Turn the raw records a connection paginated into GraphQL nodes (only the page's)."""
    for edge in conn["edges"]:
        edge["node"] = make(edge["node"])
    conn["nodes"] = [e["node"] for e in conn["edges"]]


def _bulk_or_paginate(info, items, **page) -> dict:
    from .state import paginate

    if info.context.get("bulk"):  # a bulk query reads every node, without `first`
        return {"edges": [{"cursor": "", "node": i} for i in items], "nodes": list(items),
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None}}
    return paginate(items, lambda r: [r.id], **page)


_SKU_TERM = re.compile(r"sku:(?:'([^']*)'|\"([^\"]*)\"|(\S+))")


def _filter_variants(items: list[Variant], query: str | None) -> list[Variant]:
    if not query:
        return items
    m = _SKU_TERM.search(query)
    if not m:
        return items
    wanted = next(g for g in m.groups() if g is not None)
    return [v for v in items if (v.sku or "") == wanted]


def bulk_status(op: BulkOperation, now: float | None = None) -> str:
    now = time.monotonic() if now is None else now
    if op.failed:
        return "FAILED"
    if now >= op.ready_at:
        return "COMPLETED"
    return "RUNNING" if now > op.created + 0.05 else "CREATED"


class CatalogRoot:
    """Root resolvers of the catalog (mixed into the fake's root)."""

    def products(self, info, first=None, after=None, last=None, before=None, reverse=False, query=None):
        from .state import _charge_connection

        catalog: Catalog = info.context["shop"].catalog
        items = sorted(catalog.products.values(), key=lambda p: p.id)
        conn = _bulk_or_paginate(info, items, first=first, after=after, last=last, before=before, reverse=reverse)
        _nodes(conn, lambda p: product_node(catalog, p))
        return conn if info.context.get("bulk") else _charge_connection(info, conn)

    def productsCount(self, info, query=None, limit=None):  # noqa: N802
        count = len(info.context["shop"].catalog.products)
        return {"count": min(count, limit) if limit else count, "precision": "EXACT"}

    def productVariants(self, info, first=None, after=None, last=None, before=None, reverse=False,  # noqa: N802
                        query=None):
        from .state import _charge_connection

        catalog: Catalog = info.context["shop"].catalog
        items = _filter_variants(sorted(catalog.variants.values(), key=lambda v: v.id), query)
        conn = _bulk_or_paginate(info, items, first=first, after=after, last=last, before=before, reverse=reverse)
        _nodes(conn, lambda v: variant_node(catalog, v))
        return conn if info.context.get("bulk") else _charge_connection(info, conn)

    def productVariantsCount(self, info, query=None, limit=None):  # noqa: N802
        catalog: Catalog = info.context["shop"].catalog
        count = len(_filter_variants(list(catalog.variants.values()), query))
        if limit is not None and count > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": count, "precision": "EXACT"}

    def locations(self, info, first=None, after=None, last=None, before=None, includeInactive=False):  # noqa: N803
        from .state import _charge_connection, paginate

        catalog: Catalog = info.context["shop"].catalog
        items = [loc for loc in catalog.locations if loc.active or includeInactive]
        conn = paginate(items, lambda loc: [loc.id], first=first, after=after, last=last, before=before)
        _nodes(conn, location_node)
        return _charge_connection(info, conn)

    def location(self, info, id=None):  # noqa: A002 (GraphQL name)
        catalog: Catalog = info.context["shop"].catalog
        if id is None:  # Shopify: no id means the shop's primary location
            return location_node(catalog.primary)
        found = gid_number(id, "Location")
        loc = catalog.location(found[1]) if found else None
        return location_node(loc) if loc else None

    def currentBulkOperation(self, info, type="QUERY"):  # noqa: N802, A002
        catalog: Catalog = info.context["shop"].catalog
        if type != "QUERY" or not catalog.bulk_operations:
            return None
        return bulk_node(info, max(catalog.bulk_operations.values(), key=lambda op: op.id))

    def node(self, info, id):  # noqa: A002
        shop = info.context["shop"]
        catalog: Catalog = shop.catalog
        found = gid_number(id)
        if not found:
            return None
        kind, number = found
        if kind == "BulkOperation" and number in catalog.bulk_operations:
            return bulk_node(info, catalog.bulk_operations[number])
        if kind == "ProductVariant" and number in catalog.variants:
            return variant_node(catalog, catalog.variants[number])
        if kind == "Product" and number in catalog.products:
            return product_node(catalog, catalog.products[number])
        if kind == "Location" and catalog.location(number):
            return location_node(catalog.location(number))
        if kind == "InventoryItem" and number in catalog.items:
            return inventory_item_node(catalog, catalog.items[number])
        return None

    def bulkOperationRunQuery(self, info, query):  # noqa: N802
        shop = info.context["shop"]
        catalog: Catalog = shop.catalog
        running = [op for op in catalog.bulk_operations.values() if bulk_status(op) in ("CREATED", "RUNNING")]
        if running:
            return {"bulkOperation": None, "userErrors": [{
                "code": "OPERATION_IN_PROGRESS", "field": ["query"],
                "message": f"A bulk query operation for this app and shop is already in progress: "
                           f"{gid('BulkOperation', running[0].id)}."}]}
        try:
            lines, objects, roots = run_bulk_query(info.context, query)
        except GraphQLError as exc:
            return {"bulkOperation": None, "userErrors": [{"code": "INVALID", "field": ["query"],
                                                            "message": exc.message}]}
        now = time.monotonic()
        op = BulkOperation(id=next(_ids), query=query, created=now,
                           ready_at=now + max(0.2, objects / max(catalog.bulk_rate, 1.0)), lines=lines,
                           object_count=objects, root_count=roots)
        catalog.bulk_operations[op.id] = op
        return {"bulkOperation": bulk_node(info, op), "userErrors": []}


def bulk_node(info, op: BulkOperation) -> dict:
    status = bulk_status(op)
    done = status == "COMPLETED"
    base = info.context.get("base_url", "")
    shop = info.context["shop"]
    return {
        "__typename": "BulkOperation",
        "id": gid("BulkOperation", op.id),
        "status": status,
        "errorCode": op.failed,
        "type": "QUERY",
        "createdAt": _iso(op.created),
        "completedAt": _iso(op.ready_at) if done else None,
        # Shopify counts what was written so far while it runs
        "objectCount": str(op.object_count if done else int(op.object_count * _progress(op))),
        "rootObjectCount": str(op.root_count if done else int(op.root_count * _progress(op))),
        "fileSize": str(len(op.lines)) if done else None,
        "url": f"{base}/_fake/bulk/{shop.domain}/{op.id}.jsonl" if done and op.lines else None,
        "partialDataUrl": None,
        "query": op.query,
    }


def _progress(op: BulkOperation) -> float:
    span = op.ready_at - op.created
    return 1.0 if span <= 0 else min(1.0, max(0.0, (time.monotonic() - op.created) / span))


def _iso(monotonic_at: float) -> str:
    from datetime import UTC, datetime

    wall = time.time() - (time.monotonic() - monotonic_at)
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_bulk_query(context: dict, query: str) -> tuple[bytes, int, int]:
    """Run a bulk query over all the data and write Shopify's JSONL: one line per node, nested
    connections' nodes on their own lines with `__parentId`. Returns (jsonl, objects, root objects)."""
    from graphql import execute

    from .schema import schema_for
    from .state import _Root

    schema = schema_for(context["version"])
    document = parse(query)
    errors = validate(schema, document)
    if errors:
        raise GraphQLError(errors[0].message)
    result = execute(schema, document, root_value=_Root(), context_value={**context, "bulk": True, "refund": 0})
    if result.errors:
        raise GraphQLError(result.errors[0].message)
    out: list[bytes] = []
    roots = 0
    for value in (result.data or {}).values():
        if not isinstance(value, dict) or not _is_connection(value):
            raise GraphQLError("Bulk queries must contain at least one connection.")
        for node in _connection_nodes(value):
            roots += 1
            _emit(node, None, out)
    return b"".join(out), len(out), roots


def _is_connection(value: dict) -> bool:
    return "edges" in value or ("nodes" in value and isinstance(value.get("nodes"), list))


def _connection_nodes(value: dict) -> list[dict]:
    if "edges" in value:
        return [e["node"] for e in value["edges"] if isinstance(e, dict) and "node" in e]
    return list(value.get("nodes") or [])


def _emit(node: dict, parent_id: str | None, out: list[bytes]) -> None:
    children: list[dict] = []
    line = {}
    for key, value in node.items():
        if isinstance(value, dict) and _is_connection(value):
            children += _connection_nodes(value)
        else:
            line[key] = value
    if parent_id is not None:
        line["__parentId"] = parent_id
    out.append(json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
    for child in children:
        _emit(child, node.get("id"), out)
