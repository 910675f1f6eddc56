"""The order ledger's rules, as pure functions over plain data: every path calls these.

Two steps, each defined once:

- `read_facts(topic, payload)`: what one Shopify payload says about its order (paid lines with
  their sold quantities, a cancellation, refunds' restocks) and which of its lines cannot be read.
  A bad line is set aside with its reason; it never fails the rest of the order.
- `settle(state, facts, resolution)`: the ledger's new state and the stock deltas still owed.
  The net effect a line should have on stock is a function of the facts alone, never of the
  order they arrived in: nothing unless paid and not cancelled; otherwise minus the paid quantity
  plus what distinct refunds restocked, capped at what was taken.

The Django view, the lean route, the retry worker and reconciliation execute what these decide
(through the ORM or set-based SQL); none of them decides anything of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from chegouhub.sales.money import SaleValue, order_value, refund_value

RESTOCK_TYPES = frozenset({"return", "cancel", "legacy_restock"})
MAX_LINE_QUANTITY = 1_000_000
MAX_SKU_LENGTH = 255
MAX_NAME_LENGTH = 100
MAX_ID_LENGTH = 255
MAX_ORDER_ID = 2**63 - 1  # the ledger's and the inbox's bigint columns
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# A lone UTF-16 surrogate (`"\\ud800"` is valid JSON) is no character: no UTF-8 text column or jsonb
# key can hold it, so a line naming one is set aside like any other unreadable line.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class UnreadableOrder(ValueError):
    """The payload names no order (or refund) the ledger can key: the delivery fails, kept raw."""


@dataclass(frozen=True)
class Line:
    key: str  # Shopify's line item id, or its position when it has none
    sku: str | None  # None: no SKU (counted as unmapped)
    quantidade: int  # the sold quantity (CONTRACT section 4)


@dataclass(frozen=True)
class InvalidLine:
    posicao: int  # 1-based position in line_items (or refund_line_items)
    motivo: str

    def as_dict(self) -> dict:
        return {"posicao": self.posicao, "motivo": self.motivo}


@dataclass(frozen=True)
class OrderFacts:
    order_id: int
    referencia: str  # what the movements name: the order id, or the refund id
    name: str = ""
    paid: bool = False
    cancelled: bool = False
    lines: tuple[Line, ...] = ()
    invalid: tuple[InvalidLine, ...] = ()
    refunds: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # refund id -> {line key: restocked}
    value: SaleValue | None = None  # what the order was worth (orders/paid)
    refund_values: Mapping[str, SaleValue | None] = field(default_factory=dict)  # refund id -> what it gave back

    def only_payment(self) -> OrderFacts:
        """The paid fact alone (reconciliation settles cancellations and refunds as their own facts)."""
        return replace(self, cancelled=False, refunds={}, refund_values={})


@dataclass
class LedgerState:
    """What the ledger knows of one order, as stored in OrderLedger's columns."""

    paid: bool = False
    cancelled: bool = False
    order_name: str = ""
    paid_lines: dict[str, dict] = field(default_factory=dict)  # key -> {"sku", "produto_id", "quantidade"}
    refunds: dict[str, dict[str, int]] = field(default_factory=dict)
    applied: dict[str, int] = field(default_factory=dict)  # key -> signed quantity already applied


@dataclass(frozen=True)
class ValueFact:
    """A sale value to record once: the order's (`pedido`) or a refund's (`reembolso`)."""

    tipo: str
    referencia: str
    value: SaleValue | None  # None: the payload stated none (counted as `sem_valor`)
    unidades: int = 0


@dataclass(frozen=True)
class Settlement:
    state: LedgerState
    deltas: dict[int, int]  # produto id -> signed change still owed, non-zero, by produto id
    first_paid: bool  # this delivery is the order's payment, seen for the first time
    unmapped: list[str | None]
    invalid: list[dict]
    values: list[ValueFact] = field(default_factory=list)  # to record once (a row already there stays)


# --- reading a payload -------------------------------------------------------------------------


def clean_text(value, limit: int) -> str:
    """A display string (order name): control characters, which no column can hold, removed."""
    return _SURROGATE.sub("", _CONTROL.sub("", str(value)))[:limit] if value is not None else ""


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _quantity(value) -> int | None:
    return value if _is_int(value) and 0 <= value <= MAX_LINE_QUANTITY else None


def fact_key(value) -> str | None:
    """An id as the ledger keys it (Shopify ids are integers; strings are kept when printable)."""
    if _is_int(value):
        return str(value)
    if (isinstance(value, str) and value.strip() and len(value) <= MAX_ID_LENGTH and not _CONTROL.search(value)
            and not _SURROGATE.search(value)):
        return value.strip()
    return None


def _order_id(value) -> int:
    if _is_int(value) and 0 < value <= MAX_ORDER_ID:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ORDER_ID:
        return int(value)
    raise UnreadableOrder("payload has no usable order id")


def _sku(value) -> tuple[str | None, str | None]:
    """(sku, reason it is invalid)."""
    if value is None or value == "":
        return None, None
    if _is_int(value):
        value = str(value)
    if not isinstance(value, str):
        return None, "SKU não é texto"
    if len(value) > MAX_SKU_LENGTH:
        return None, f"SKU com mais de {MAX_SKU_LENGTH} caracteres"
    if _CONTROL.search(value):
        return None, "SKU com caracteres de controle"
    if _SURROGATE.search(value):
        return None, "SKU com um caractere UTF-16 isolado (não é texto válido)"
    return value.strip() or None, None


def refund_restocks(refund: dict) -> dict[str, int]:
    """{line key: quantity} that a refund puts back on the shelf."""
    return _read_restocks(refund)[0]


def _read_restocks(refund: dict) -> tuple[dict[str, int], list[InvalidLine]]:
    """{line key: quantity} that a refund puts back on the shelf, and the items it cannot read."""
    restocks: dict[str, int] = {}
    invalid: list[InvalidLine] = []
    items = refund.get("refund_line_items") or []
    if not isinstance(items, list):
        return {}, [InvalidLine(0, "refund_line_items não é uma lista")]
    for position, item in enumerate(items, 1):
        if not isinstance(item, dict):
            invalid.append(InvalidLine(position, "item de reembolso não é um objeto"))
            continue
        if item.get("restock_type") not in RESTOCK_TYPES:
            continue  # no_restock (or unknown): puts back nothing
        key, qty = fact_key(item.get("line_item_id")), _quantity(item.get("quantity"))
        if key is None or qty is None:
            invalid.append(InvalidLine(position, "item de reembolso sem line_item_id ou quantidade válidos"))
            continue
        restocks[key] = restocks.get(key, 0) + qty
    return restocks, invalid


def _refunded_by_line(refunds: list) -> dict[str, int]:
    """Units of each line that the snapshot's own refunds removed (any restock type)."""
    removed: dict[str, int] = {}
    for refund in refunds:
        items = refund.get("refund_line_items") if isinstance(refund, dict) else None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                key, qty = fact_key(item.get("line_item_id")), _quantity(item.get("quantity"))
                if key is not None and qty is not None:
                    removed[key] = removed.get(key, 0) + qty
    return removed


def line_quantity(item: dict, refunds: list = ()) -> int | None:
    """The sold quantity of one line item of an order snapshot with these refunds (None: unreadable)."""
    key = fact_key(item.get("id"))
    return _sold_quantity(item, key or "", _refunded_by_line(list(refunds)) if key else {})


def _sold_quantity(item: dict, key: str, removed: Mapping[str, int]) -> int | None:
    """`current_quantity` plus what the snapshot's refunds removed; `quantity` without it."""
    if item.get("current_quantity") is None:
        return _quantity(item.get("quantity"))
    current = _quantity(item.get("current_quantity"))
    if current is None:
        return None
    return _quantity(current + removed.get(key, 0))


def _read_lines(items, refunds: list) -> tuple[tuple[Line, ...], tuple[InvalidLine, ...]]:
    if items is None:
        items = []
    if not isinstance(items, list):
        raise UnreadableOrder("line_items is not a list")
    removed = _refunded_by_line(refunds)
    lines, invalid, seen = [], [], set()
    for position, item in enumerate(items, 1):
        if not isinstance(item, dict):
            invalid.append(InvalidLine(position, "linha não é um objeto"))
            continue
        key = f"idx-{position - 1}" if item.get("id") is None else fact_key(item["id"])
        if key is None:
            invalid.append(InvalidLine(position, "id da linha inválido"))
            continue
        if key in seen:
            invalid.append(InvalidLine(position, "id da linha repetido"))
            continue
        sku, why = _sku(item.get("sku"))
        quantidade = _sold_quantity(item, key, removed)
        if why is None and quantidade is None:
            why = f"quantidade não é um inteiro entre 0 e {MAX_LINE_QUANTITY}"
        if why is not None:
            invalid.append(InvalidLine(position, why))
            continue
        seen.add(key)
        lines.append(Line(key=key, sku=sku, quantidade=quantidade))
    return tuple(lines), tuple(invalid)


def _embedded_refunds(refunds: list) -> tuple[dict[str, dict[str, int]], dict[str, SaleValue | None]]:
    facts: dict[str, dict[str, int]] = {}
    values: dict[str, SaleValue | None] = {}
    for refund in refunds:
        if isinstance(refund, dict) and (key := fact_key(refund.get("id"))) is not None:
            facts.setdefault(key, refund_restocks(refund))
            values.setdefault(key, refund_value(refund))
    return facts, values


def read_facts(topic: str, payload: dict) -> OrderFacts:
    """The facts one verified payload of a stock topic states. Raises UnreadableOrder."""
    if topic == "refunds/create":
        refund_id = fact_key(payload.get("id"))
        if refund_id is None:
            raise UnreadableOrder("refund payload has no usable id")
        restocks, invalid = _read_restocks(payload)
        return OrderFacts(order_id=_order_id(payload.get("order_id")), referencia=refund_id,
                          refunds={refund_id: restocks}, invalid=tuple(invalid),
                          refund_values={refund_id: refund_value(payload)})
    order_id = _order_id(payload.get("id"))
    refunds = payload.get("refunds") or []
    refunds = refunds if isinstance(refunds, list) else []
    paid = topic == "orders/paid"
    lines, invalid = _read_lines(payload.get("line_items"), refunds) if paid else ((), ())
    embedded, embedded_values = _embedded_refunds(refunds)
    return OrderFacts(
        order_id=order_id,
        referencia=str(order_id),
        name=clean_text(payload.get("name"), MAX_NAME_LENGTH) if payload.get("name") else "",
        paid=paid,
        cancelled=topic == "orders/cancelled" or bool(payload.get("cancelled_at")),
        lines=lines,
        invalid=invalid,
        refunds=embedded,
        value=order_value(payload) if paid else None,
        refund_values=embedded_values,
    )


# --- settling ------------------------------------------------------------------------------------


def line_target(*, paid_quantity: int, paid: bool, cancelled: bool, restocked: int) -> int:
    if not paid or cancelled:
        return 0
    return -paid_quantity + min(paid_quantity, max(restocked, 0))


def restocked_by_line(refunds: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for lines in refunds.values():
        for line_id, qty in lines.items():
            totals[line_id] = totals.get(line_id, 0) + qty
    return totals


def targets(*, paid: bool, cancelled: bool, paid_lines: Mapping[str, dict], refunds: Mapping) -> dict[str, int]:
    restocked = restocked_by_line(refunds)
    return {
        line_id: line_target(
            paid_quantity=line["quantidade"], paid=paid, cancelled=cancelled, restocked=restocked.get(line_id, 0)
        )
        for line_id, line in paid_lines.items()
    }


def pending_deltas(
    *, paid: bool, cancelled: bool, paid_lines: Mapping[str, dict], refunds: Mapping, applied: Mapping[str, int]
) -> dict[str, int]:
    """Per line: what still has to be applied so that applied == target."""
    wanted = targets(paid=paid, cancelled=cancelled, paid_lines=paid_lines, refunds=refunds)
    deltas = {}
    for line_id in set(wanted) | set(applied):
        delta = wanted.get(line_id, 0) - applied.get(line_id, 0)
        if delta:
            deltas[line_id] = delta
    return deltas


def skus_to_resolve(state: LedgerState, facts: OrderFacts) -> set[str]:
    """The SKUs whose produto `settle` needs: only a first payment maps lines."""
    if state.paid or not facts.paid:
        return set()
    return {line.sku for line in facts.lines if line.sku}


def settle(state: LedgerState, facts: OrderFacts, resolution: Mapping[str, int]) -> Settlement:
    """Fold the facts into the state and say what the stock still owes.

    `resolution` maps the SKUs of `skus_to_resolve` to produto ids (a mapeamento first, then an
    equal SKU); a SKU missing from it is unmapped.
    """
    new = LedgerState(paid=state.paid, cancelled=state.cancelled, order_name=state.order_name,
                      paid_lines=dict(state.paid_lines), refunds=dict(state.refunds), applied=dict(state.applied))
    first_paid = facts.paid and not state.paid
    unmapped: list[str | None] = []
    if first_paid:
        for line in facts.lines:
            produto_id = resolution.get(line.sku) if line.sku else None
            if produto_id is None:
                unmapped.append(line.sku)
            new.paid_lines[line.key] = {"sku": line.sku, "produto_id": produto_id, "quantidade": line.quantidade}
        new.paid = True
    values: list[ValueFact] = []
    if first_paid:
        values.append(ValueFact("pedido", str(facts.order_id), facts.value,
                                sum(line.quantidade for line in facts.lines)))
    new.cancelled = new.cancelled or facts.cancelled
    for refund_id, lines in facts.refunds.items():
        # Valued by the first delivery that states its value, even when an earlier one (a
        # reconciliation snapshot without transactions) brought the restock alone: the value's
        # unique key (ValorVenda `valor_once`) keeps it once.
        if facts.refund_values.get(refund_id) is not None:
            values.append(ValueFact("reembolso", refund_id, facts.refund_values[refund_id]))
        new.refunds.setdefault(refund_id, dict(lines))
    if facts.name and not new.order_name:
        new.order_name = facts.name
    mapped = {k: v for k, v in new.paid_lines.items() if v.get("produto_id")}
    line_deltas = pending_deltas(paid=new.paid, cancelled=new.cancelled, paid_lines=mapped, refunds=new.refunds,
                                 applied=new.applied)
    by_produto: dict[int, int] = {}
    for line_id in sorted(line_deltas):
        delta = line_deltas[line_id]
        produto_id = mapped[line_id]["produto_id"]
        by_produto[produto_id] = by_produto.get(produto_id, 0) + delta
        new.applied[line_id] = new.applied.get(line_id, 0) + delta
    return Settlement(
        state=new,
        deltas={pid: d for pid, d in sorted(by_produto.items()) if d},
        first_paid=first_paid,
        unmapped=unmapped,
        invalid=[i.as_dict() for i in facts.invalid],
        values=values,
    )
