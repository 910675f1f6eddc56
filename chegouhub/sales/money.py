"""What a sale and a refund were worth (CONTRACT section 12): pure functions over plain data.

Amounts are exact decimals in each currency's own number of decimals (Babel's ISO 4217 data: 0
for JPY, 2 for BRL, 3 for KWD), never floats. Read from Shopify's `*_set.shop_money` (the shop's
currency, what totals are summed in) and `presentment_money` (the buyer's).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

from babel.numbers import format_currency, get_currency_precision, list_currencies

_CURRENCIES = frozenset(list_currencies())
MAX_AMOUNT = Decimal("1e15")  # DecimalField(max_digits=20, decimal_places=4)
# An exchange rate beyond this is a typo: 1 KWD is a few million IRR at most. It keeps every
# converted amount within what a person (and the summary) can read.
MAX_RATE = Decimal("1e9")
# Significant digits the summary computes with: an amount (20 digits) times a rate (24, what the
# column holds, whatever was stored before MAX_RATE), summed over any number of rows, stays exact.
# Python's default of 28 made quantize() raise InvalidOperation, a 500.
SUM_DIGITS = 80


def exact_sums():
    """A decimal context in which the summary's products and sums are exact (with ... as ...)."""
    return localcontext(prec=SUM_DIGITS)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def text(self) -> str:
        return money_text(self.amount, self.currency)


@dataclass(frozen=True)
class SaleValue:
    """One order's value (orders/paid) or one refund's returned amount, and when it happened."""

    shop: Money
    presented: Money | None
    at: datetime | None


def is_currency(code) -> bool:
    return isinstance(code, str) and code in _CURRENCIES


def decimals(currency: str) -> int:
    return get_currency_precision(currency)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Rounded half-even to the currency's own decimals."""
    return amount.quantize(Decimal(1).scaleb(-decimals(currency)), rounding=ROUND_HALF_EVEN)


def money_text(amount: Decimal, currency: str) -> str:
    """The wire form: a decimal string with the currency's decimals ("199.90", "3550", "12.345")."""
    return format(quantize(amount, currency), "f")


def pt_br(amount: Decimal, currency: str) -> str:
    """As a person in Brazil reads it: "R$ 1.234,56", "US$ 10,00"."""
    return format_currency(quantize(amount, currency), currency, locale="pt_BR")


def _money(value) -> Money | None:
    """A Shopify MoneyV2 / money set entry {"amount": "12.30", "currency_code": "BRL"}."""
    if not isinstance(value, dict):
        return None
    currency = value.get("currency_code", value.get("currencyCode"))
    raw = value.get("amount")
    if not is_currency(currency) or not isinstance(raw, (str, int)) or isinstance(raw, bool):
        return None
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        return None
    return Money(amount, currency)


def _set(payload: dict, key: str) -> tuple[Money | None, Money | None]:
    entry = payload.get(key)
    if not isinstance(entry, dict):
        return None, None
    return _money(entry.get("shop_money")), _money(entry.get("presentment_money"))


def _when(payload: dict) -> datetime | None:
    for key in ("processed_at", "created_at"):
        value = payload.get(key)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def order_value(order: dict) -> SaleValue | None:
    """`total_price_set`: what the buyer paid, in shop and presentment money (None: not stated)."""
    shop, presented = _set(order, "total_price_set")
    if shop is None:
        return None
    return SaleValue(shop=shop, presented=presented, at=_when(order))


def _add(total: Money | None, money: Money | None) -> Money | None:
    if money is None or (total is not None and money.currency != total.currency):
        return total  # one currency per sum; a stray one is not mixed in
    return money if total is None else Money(total.amount + money.amount, total.currency)


def refund_value(refund: dict) -> SaleValue | None:
    """What a refund gave back: its successful refund transactions (shop money); without any, its
    lines' `subtotal_set` + `total_tax_set`."""
    shop_total = presented_total = None
    transactions = refund.get("transactions")
    for tx in transactions if isinstance(transactions, list) else []:
        if isinstance(tx, dict) and tx.get("kind") == "refund" and tx.get("status") == "success":
            shop, presented = _set(tx, "amount_set")
            if shop is None:  # the REST transaction's own amount and currency
                shop = _money({"amount": tx.get("amount"), "currency_code": tx.get("currency")})
            shop_total, presented_total = _add(shop_total, shop), _add(presented_total, presented)
    if shop_total is None:
        items = refund.get("refund_line_items")
        for item in items if isinstance(items, list) else []:
            for key in ("subtotal_set", "total_tax_set"):
                shop, presented = _set(item, key) if isinstance(item, dict) else (None, None)
                shop_total, presented_total = _add(shop_total, shop), _add(presented_total, presented)
    if shop_total is None:
        return None
    return SaleValue(shop=shop_total, presented=presented_total, at=_when(refund))


def convert(amount: Decimal, currency: str, rate: Decimal, report_currency: str) -> Decimal:
    """`amount` of `currency` in the reporting currency at `rate`, rounded half-even to its decimals."""
    if currency == report_currency:
        return quantize(amount, report_currency)
    return quantize(amount * rate, report_currency)


def event_value(value: SaleValue | None) -> dict | None:
    """`valor` of venda_shopify_processada."""
    if value is None:
        return None
    presented = value.presented or value.shop
    return {"total": value.shop.text(), "moeda": value.shop.currency,
            "total_apresentado": presented.text(), "moeda_apresentada": presented.currency}
