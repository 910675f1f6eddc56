"""The fake Shopify's inventory writes and reads: `inventorySetQuantities` (compare-and-set with
`changeFromQuantity`, under `@idempotent(key:)`), `inventoryItem(id:)` and `nodes(ids:)`.

What it follows of Shopify's GraphQL Admin API (2025-10 docs):
- `InventorySetQuantitiesInput {name, reason, referenceDocumentUri, quantities: [{inventoryItemId,
  locationId, quantity, changeFromQuantity, compareQuantity}], ignoreCompareQuantity}`;
- any failed check changes nothing and answers `userErrors {code field message}`, with the codes
  of `InventorySetQuantitiesUserErrorCode` (`CHANGE_FROM_QUANTITY_STALE` naming
  `["input", "quantities", "<index>", "changeFromQuantity"]`);
- the idempotency errors are codes of that same enum (`IDEMPOTENCY_KEY_PARAMETER_MISMATCH`,
  `IDEMPOTENCY_CONCURRENT_REQUEST`), so they come as `userErrors`, not as top-level errors.
  A key's first answer is kept (errors included: Shopify may refuse a key whose attempt failed)
  for IDEMPOTENCY_WINDOW seconds; the same key with the same input gets that answer again.
"""

from __future__ import annotations

import json
import re
import time

from graphql import GraphQLError, get_directive_values

from .catalog import Catalog, gid, gid_number, inventory_item_node, location_node

SDL = """
directive @idempotent(key: String!) on FIELD

enum InventorySetQuantitiesUserErrorCode {
  CHANGE_FROM_QUANTITY_STALE COMPARE_QUANTITY_REQUIRED COMPARE_QUANTITY_STALE IDEMPOTENCY_CONCURRENT_REQUEST
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH INVALID_INVENTORY_ITEM INVALID_LOCATION INVALID_NAME INVALID_QUANTITY_NEGATIVE
  INVALID_QUANTITY_TOO_HIGH INVALID_QUANTITY_TOO_LOW INVALID_REASON INVALID_REFERENCE_DOCUMENT
  ITEM_NOT_STOCKED_AT_LOCATION NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR NON_MUTABLE_INVENTORY_ITEM
}
input InventoryQuantityInput {
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  compareQuantity: Int
  changeFromQuantity: Int
}
input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  quantities: [InventoryQuantityInput!]!
  ignoreCompareQuantity: Boolean = false
}
type InventoryChange {
  name: String!
  delta: Int!
  quantityAfterChange: Int
  ledgerDocumentUri: String
  item: InventoryItem
  location: Location
}
type InventoryAdjustmentGroup {
  id: ID!
  createdAt: DateTime!
  reason: String!
  referenceDocumentUri: String
  changes(inventoryItemIds: [ID!], locationIds: [ID!], quantityNames: [String!]): [InventoryChange!]!
}
type InventorySetQuantitiesUserError { code: InventorySetQuantitiesUserErrorCode field: [String!] message: String! }
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventorySetQuantitiesUserError!]!
}

extend type QueryRoot {
  inventoryItem(id: ID!): InventoryItem
  nodes(ids: [ID!]!): [Node]!
}

extend type Mutation {
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
}
"""

MAX_QUANTITIES = 250
MAX_NODES = 250
MAX_QUANTITY = 1_000_000_000
IDEMPOTENCY_WINDOW = 24 * 3600.0
REASONS = frozenset((
    "correction", "cycle_count_available", "damaged", "movement_canceled", "movement_created", "movement_received",
    "movement_updated", "other", "promotion", "quality_control", "received", "reservation_created",
    "reservation_deleted", "reservation_updated", "restock", "safety_stock", "shrinkage",
))
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_group_ids = iter(range(70_000_001, 10**12))


def _error(code: str | None, field: list[str], message: str) -> dict:
    return {"code": code, "field": field, "message": message}


def _refused(errors: list[dict]) -> dict:
    return {"inventoryAdjustmentGroup": None, "userErrors": errors}


def set_quantities(catalog: Catalog, data: dict, stats: dict) -> dict:
    """Check every quantity first; apply all or nothing. `available` and `on_hand` move together."""
    name, quantities = data.get("name"), data.get("quantities") or []
    if len(quantities) > MAX_QUANTITIES:
        return _refused([_error(None, ["input", "quantities"],
                                f"The quantities can't have more than {MAX_QUANTITIES} items.")])
    if name not in ("available", "on_hand"):
        return _refused([_error("INVALID_NAME", ["input", "name"],
                                "The quantity name must be either 'available' or 'on_hand'.")])
    if data.get("reason") not in REASONS:
        return _refused([_error("INVALID_REASON", ["input", "reason"], "The specified reason is invalid.")])
    uri = data.get("referenceDocumentUri")
    if uri is not None and not _URI.match(uri):
        return _refused([_error("INVALID_REFERENCE_DOCUMENT", ["input", "referenceDocumentUri"],
                                "The specified reference document is invalid.")])
    check_compare = not data.get("ignoreCompareQuantity")
    errors: list[dict] = []
    planned = []
    seen: set[tuple[int, int]] = set()
    stale = False
    for index, q in enumerate(quantities):
        path = ["input", "quantities", str(index)]
        item = gid_number(q.get("inventoryItemId"), "InventoryItem")
        variant = catalog.items.get(item[1]) if item else None
        if variant is None:
            errors.append(_error("INVALID_INVENTORY_ITEM", [*path, "inventoryItemId"],
                                 "The specified inventory item could not be found."))
            continue
        found = gid_number(q.get("locationId"), "Location")
        location = catalog.location(found[1]) if found else None
        if location is None:
            errors.append(_error("INVALID_LOCATION", [*path, "locationId"], "The specified location could not be found."))
            continue
        level = variant.levels.get(location.id)
        if level is None:
            errors.append(_error("ITEM_NOT_STOCKED_AT_LOCATION", [*path, "locationId"],
                                 "The specified inventory item is not stocked at the location."))
            continue
        if (variant.id, location.id) in seen:
            errors.append(_error("NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR", path,
                                 "The combination of inventoryItemId and locationId must be unique."))
            continue
        seen.add((variant.id, location.id))
        quantity = int(q["quantity"])
        if quantity > MAX_QUANTITY:
            errors.append(_error("INVALID_QUANTITY_TOO_HIGH", [*path, "quantity"],
                                 "The total quantity can't be higher than 1,000,000,000."))
            continue
        if name == "on_hand" and quantity < 0:
            errors.append(_error("INVALID_QUANTITY_NEGATIVE", [*path, "quantity"], "The quantity can't be negative."))
            continue
        current = int(level.get(name, 0))
        change_from = q.get("changeFromQuantity")
        if change_from is not None and int(change_from) != current:
            stale = True
            errors.append(_error("CHANGE_FROM_QUANTITY_STALE", [*path, "changeFromQuantity"],
                                 "The changeFromQuantity value does not match persisted value."))
            continue
        compare = q.get("compareQuantity")
        if check_compare and compare is not None and int(compare) != current:
            stale = True
            errors.append(_error("COMPARE_QUANTITY_STALE", [*path, "compareQuantity"],
                                 "The compareQuantity value does not match persisted value."))
            continue
        planned.append((variant, location, level, quantity))
    if errors:
        stats["stale"] += stale
        return _refused(errors)

    other = "on_hand" if name == "available" else "available"
    changes = []
    for variant, location, level, quantity in planned:
        delta = quantity - int(level.get(name, 0))
        level[name] = quantity
        level[other] = int(level.get(other, 0)) + delta
        item_gid = gid("InventoryItem", variant.inventory_item_id)
        for quantity_name in (name, other):
            changes.append({"name": quantity_name, "delta": delta, "quantityAfterChange": level[quantity_name],
                            "ledgerDocumentUri": None, "_item": item_gid, "_location": gid("Location", location.id),
                            "item": (lambda info, v=variant: inventory_item_node(catalog, v)),
                            "location": (lambda info, loc=location: location_node(loc))})
    stats["quantities_set"] += len(planned)

    def changes_field(info, inventoryItemIds=None, locationIds=None, quantityNames=None):  # noqa: N803
        return [c for c in changes if (not inventoryItemIds or c["_item"] in inventoryItemIds)
                and (not locationIds or c["_location"] in locationIds)
                and (not quantityNames or c["name"] in quantityNames)]

    from .state import now_iso

    return {"userErrors": [], "inventoryAdjustmentGroup": {
        "id": gid("InventoryAdjustmentGroup", next(_group_ids)), "createdAt": now_iso(), "reason": data["reason"],
        "referenceDocumentUri": uri, "changes": changes_field}}


def idempotency_key(info) -> str | None:
    directive = info.schema.get_directive("idempotent")
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values) if directive else None
    return str(values["key"]) if values else None


class InventoryRoot:
    """Root resolvers (mixed into the fake's root); the shop, the fake and the version come in the context."""

    def inventoryItem(self, info, id):  # noqa: N802, A002 (GraphQL names)
        catalog: Catalog = info.context["shop"].catalog
        found = gid_number(id, "InventoryItem")
        variant = catalog.items.get(found[1]) if found else None
        return inventory_item_node(catalog, variant) if variant else None

    def nodes(self, info, ids):
        if len(ids) > MAX_NODES:
            raise GraphQLError(f"The ids argument can't have more than {MAX_NODES} items.")
        return [self.node(info, node_id) for node_id in ids]

    def inventorySetQuantities(self, info, input):  # noqa: N802, A002
        shop = info.context["shop"]
        fake = info.context["fake"]
        forced = self._user_error(info, "inventorySetQuantities")
        if forced:
            return _refused([{"code": None, **e} for e in forced])
        stats = shop.stats
        stats["set_quantities_calls"] += 1
        key = idempotency_key(info)
        if key is None:
            return set_quantities(shop.catalog, input, stats)
        # a test hook: Shopify is still processing an earlier request with this key
        if fake._next_failure(shop, kinds=("idempotency_concurrent",)) is not None:
            return _refused([_error("IDEMPOTENCY_CONCURRENT_REQUEST", [], "This request is currently in progress, "
                                    "please try again.")])
        fingerprint = json.dumps(["inventorySetQuantities", input], sort_keys=True, default=str)
        now = time.monotonic()
        stored = shop.idempotency.get(key)
        if stored is not None and stored[1] > now:
            if stored[0] != fingerprint:
                return _refused([_error("IDEMPOTENCY_KEY_PARAMETER_MISMATCH", [],
                                        "The same idempotency key cannot be used with different operation "
                                        "parameters.")])
            stats["idempotent_replays"] += 1
            return stored[2]
        answer = set_quantities(shop.catalog, input, stats)
        if len(shop.idempotency) > 50_000:  # keep memory bounded on long benchmark runs
            shop.idempotency = {k: v for k, v in shop.idempotency.items() if v[1] > now}
        shop.idempotency[key] = (fingerprint, now + IDEMPOTENCY_WINDOW, answer)
        return answer
