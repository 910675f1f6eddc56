"""What stock sync asks Shopify (GraphQL Admin API), and nothing about the database.

- `set_quantities`: one `inventorySetQuantities` call (`name: "available"`, `reason: "correction"`),
  compare-and-set through `changeFromQuantity`, under `@idempotent(key:)`, at most 250 changes;
- `read_available`: `available` at a location for many inventory items, through `nodes(ids:)`,
  250 ids a call (what a caller re-reads after a `CHANGE_FROM_QUANTITY_STALE`).

Throttling, retries and errors are AdminApiClient's. A stale or refused set comes back in the
result (not raised): Shopify's userErrors are answers the caller acts on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chegouhub.catalog.remote import legacy_id
from chegouhub.shopify.admin_api import AdminApiClient

MAX_CHANGES = 250
MAX_IDS = 250
SET_COST = 10  # a mutation
READ_NODE_COST = 3  # InventoryItem 1 + inventoryLevel 1 + quantities 1
STALE = "CHANGE_FROM_QUANTITY_STALE"
CONCURRENT = "IDEMPOTENCY_CONCURRENT_REQUEST"

SET_MUTATION = """
mutation ChegouhubSetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes(quantityNames: ["available"]) { name quantityAfterChange item { id } } }
    userErrors { code field message }
  }
}
"""

READ_QUERY = """
query ChegouhubAvailable($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) { quantities(names: ["available"]) { name quantity } }
    }
  }
}
"""


@dataclass(frozen=True)
class QuantityChange:
    inventory_item_id: int
    quantity: int
    change_from: int | None  # what Shopify last reported (None: set without comparing)


@dataclass
class SetResult:
    applied: dict[int, int] = field(default_factory=dict)  # inventory item id -> available after the change
    stale: list[int] = field(default_factory=list)  # items whose changeFromQuantity no longer matched
    errors: list[str] = field(default_factory=list)  # other userErrors, "CODE: message (campo ...)"
    cost: float | None = None  # actualQueryCost

    @property
    def retryable(self) -> bool:
        """Shopify was still processing an earlier request with the same key: try again later."""
        return any(e.startswith(CONCURRENT) for e in self.errors)


def location_gid(location_id: str | int) -> str:
    text = str(location_id)
    return text if text.startswith("gid://") else f"gid://shopify/Location/{int(text)}"


def item_gid(inventory_item_id: int) -> str:
    return f"gid://shopify/InventoryItem/{int(inventory_item_id)}"


def _quantity_index(path) -> int | None:
    """`["input", "quantities", "3", "changeFromQuantity"]` -> 3."""
    if isinstance(path, list) and len(path) >= 3 and path[1] == "quantities":
        try:
            return int(path[2])
        except (TypeError, ValueError):
            return None
    return None


def _describe(error: dict) -> str:
    code = error.get("code") or "ERRO"
    message = str(error.get("message") or "").strip()[:300]
    path = error.get("field")
    where = ".".join(str(p) for p in path) if isinstance(path, list) and path else ""
    return f"{code}: {message} (campo {where})" if where else f"{code}: {message}"


async def set_quantities(client: AdminApiClient, *, location_id: str, changes: list[QuantityChange],
                         idempotency_key: str, reference_uri: str) -> SetResult:
    """Bring each item's `available` at the location to its quantity, all or nothing.

    A retry after a stale answer must use a new key: Shopify keeps a key's first answer, and the
    same key with another input is refused (IDEMPOTENCY_KEY_PARAMETER_MISMATCH).
    """
    if len(changes) > MAX_CHANGES:
        raise ValueError(f"inventorySetQuantities takes at most {MAX_CHANGES} quantities, got {len(changes)}")
    result = SetResult()
    if not changes:
        return result
    location = location_gid(location_id)
    variables = {
        "key": idempotency_key,
        "input": {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": reference_uri,
            "quantities": [{"inventoryItemId": item_gid(c.inventory_item_id), "locationId": location,
                            "quantity": int(c.quantity), "changeFromQuantity": c.change_from} for c in changes],
        },
    }
    data = await client.execute(SET_MUTATION, variables, expected_cost=SET_COST)
    result.cost = (client.last_cost or {}).get("actualQueryCost")
    payload = data.get("inventorySetQuantities") or {}
    for error in payload.get("userErrors") or []:
        index = _quantity_index(error.get("field"))
        if error.get("code") == STALE and index is not None and index < len(changes):
            result.stale.append(changes[index].inventory_item_id)
        else:
            result.errors.append(_describe(error))
    group = payload.get("inventoryAdjustmentGroup") or {}
    for change in group.get("changes") or []:
        item = legacy_id((change.get("item") or {}).get("id"))
        if change.get("name") == "available" and item is not None and change.get("quantityAfterChange") is not None:
            result.applied[item] = int(change["quantityAfterChange"])
    return result


async def read_available(client: AdminApiClient, *, location_id: str, inventory_item_ids: list[int]
                         ) -> dict[int, int | None]:
    """`available` at the location per item; None for an item Shopify does not know or stock there."""
    location = location_gid(location_id)
    ids = list(dict.fromkeys(int(i) for i in inventory_item_ids))
    found: dict[int, int | None] = dict.fromkeys(ids)
    for start in range(0, len(ids), MAX_IDS):
        chunk = ids[start:start + MAX_IDS]
        data = await client.execute(READ_QUERY, {"ids": [item_gid(i) for i in chunk], "locationId": location},
                                    expected_cost=READ_NODE_COST * len(chunk))
        for node in data.get("nodes") or []:
            item = legacy_id((node or {}).get("id"))
            if item not in found:
                continue
            quantities = ((node.get("inventoryLevel") or {}).get("quantities")) or []
            found[item] = next((int(q["quantity"]) for q in quantities if q.get("name") == "available"), None)
    return found
