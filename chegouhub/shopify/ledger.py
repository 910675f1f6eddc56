"""The order ledger's arithmetic: pure functions of the facts, shared with the tests' model.

The net effect a line should have on stock is a function of the facts alone, never of the
order they arrived in: nothing unless paid and not cancelled; otherwise minus the paid
quantity plus what distinct refunds restocked, capped at what was taken.
"""

from __future__ import annotations

RESTOCK_TYPES = frozenset({"return", "cancel", "legacy_restock"})


def line_target(*, paid_quantity: int, paid: bool, cancelled: bool, restocked: int) -> int:
    if not paid or cancelled:
        return 0
    return -paid_quantity + min(paid_quantity, max(restocked, 0))


def restocked_by_line(refunds: dict[str, dict[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for lines in refunds.values():
        for line_id, qty in lines.items():
            totals[line_id] = totals.get(line_id, 0) + qty
    return totals


def targets(*, paid: bool, cancelled: bool, paid_lines: dict[str, dict], refunds: dict) -> dict[str, int]:
    restocked = restocked_by_line(refunds)
    return {
        line_id: line_target(
            paid_quantity=line["quantidade"], paid=paid, cancelled=cancelled, restocked=restocked.get(line_id, 0)
        )
        for line_id, line in paid_lines.items()
    }


def pending_deltas(
    *, paid: bool, cancelled: bool, paid_lines: dict[str, dict], refunds: dict, applied: dict[str, int]
) -> dict[str, int]:
    """Per line: what still has to be applied so that applied == target."""
    wanted = targets(paid=paid, cancelled=cancelled, paid_lines=paid_lines, refunds=refunds)
    deltas = {}
    for line_id in set(wanted) | set(applied):
        delta = wanted.get(line_id, 0) - applied.get(line_id, 0)
        if delta:
            deltas[line_id] = delta
    return deltas


def line_quantity(line_item: dict) -> int:
    """`current_quantity` (after edits and removals) where Shopify sends it, else `quantity`."""
    qty = line_item.get("current_quantity")
    if qty is None:
        qty = line_item.get("quantity", 0)
    return max(int(qty), 0)


def refund_restocks(refund: dict) -> dict[str, int]:
    """{line_item_id: quantity} that a refund puts back on the shelf."""
    restocks: dict[str, int] = {}
    for item in refund.get("refund_line_items") or []:
        if item.get("restock_type") in RESTOCK_TYPES and item.get("line_item_id") is not None:
            key = str(item["line_item_id"])
            restocks[key] = restocks.get(key, 0) + max(int(item.get("quantity") or 0), 0)
    return restocks
