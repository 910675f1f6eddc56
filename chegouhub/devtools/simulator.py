"""A Shopify webhook sender: signed `orders/paid`, `orders/cancelled` and `refunds/create`
deliveries with Shopify's headers, at least once, with optional duplicates, reordering and delay.

Orders reuse the loja's SKUs (and its mapeamentos' Shopify SKUs), with some SKUs the loja does
not have and some items without a SKU. Some orders are cancelled (half of them with a restocking
refund, which Shopify also sends as `refunds/create`), some get refunds of every restock type.

`expected_deltas()` says what the stock must end up as, per produto, computed with the ledger's
own pure functions (chegouhub/shopify/ledger.py) from the facts alone, so a test can compare the
database with the model whatever the order, duplication or delay of the deliveries.

Use it from code (`simulate(loja=..., config=...)`, or `Simulator` directly inside an event loop)
or from `python manage.py simulate_shopify`.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from chegouhub.devtools.payloads import encode, order_payload, refund_payload, signed_headers
from chegouhub.shopify import ledger

WEBHOOK_PATH = "/api/estoque/webhook/shopify/"
RESTOCK_TYPES = ("return", "cancel", "legacy_restock", "no_restock")


@dataclass
class SimulationConfig:
    orders: int = 100
    rate: float = 20.0  # deliveries per second; 0 = as fast as the concurrency allows
    duplicates: float = 0.0  # share of deliveries sent again (same webhook id, or same event under a new id)
    reorder: float = 0.0  # share of deliveries moved out of order (up to `reorder_window` places)
    reorder_window: int = 20
    delay: float = 0.0  # each delivery late by up to this many seconds
    cancel_rate: float = 0.1
    refund_rate: float = 0.15
    unmapped_rate: float = 0.1  # share of lines with a SKU the loja does not have
    no_sku_rate: float = 0.05  # share of lines without a SKU
    edited_rate: float = 0.05  # share of lines whose current_quantity is below quantity (order edits)
    max_lines: int = 3
    max_quantity: int = 3
    concurrency: int = 10
    attempts: int = 5  # at least once: a delivery is retried until 2xx or this many attempts
    retry_base: float = 0.2
    seed: int | None = None
    order_id_start: int | None = None
    api_version: str = "2025-10"
    currency: str = "BRL"  # the shop's currency: every order's value and every refund's amount
    unit_price: str = "49.90"  # each unit sold, in `currency`


@dataclass
class LinePlan:
    line_id: int
    sku: str | None
    quantity: int
    current_quantity: int | None = None


@dataclass
class RefundPlan:
    refund_id: int
    lines: list[tuple[int, int, str]]  # (line_id, quantity, restock_type)
    amount: tuple[str, str] | None = None  # what its refund transaction gives back (amount, currency)

    def payload(self, order_id: int) -> dict:
        return refund_payload(self.refund_id, order_id, self.lines, amount=self.amount)


@dataclass
class OrderPlan:
    order_id: int
    lines: list[LinePlan]
    cancelled: bool = False
    refunds: list[RefundPlan] = field(default_factory=list)
    total: tuple[str, str] | None = None  # the order's value (amount, currency)

    @property
    def name(self) -> str:
        return f"#SIM{self.order_id % 1_000_000}"

    def paid_payload(self) -> dict:
        return order_payload(
            self.order_id,
            [(li.line_id, li.sku, li.quantity) for li in self.lines],
            name=self.name,
            current_quantities={li.line_id: li.current_quantity for li in self.lines if li.current_quantity is not None},
            total=self.total,
        )

    def cancelled_payload(self) -> dict:
        order = order_payload(
            self.order_id,
            [(li.line_id, li.sku, li.quantity) for li in self.lines],
            name=self.name,
            cancelled=True,
            current_quantities={li.line_id: li.current_quantity for li in self.lines if li.current_quantity is not None},
            total=self.total,
        )
        order["financial_status"] = "refunded" if self.refunds else "voided"
        order["refunds"] = [r.payload(self.order_id) for r in self.refunds if r.lines and r.lines[0][2] == "cancel"]
        return order


@dataclass
class Delivery:
    topic: str
    order_id: int
    body: bytes
    webhook_id: str
    event_id: str
    not_before: float = 0.0  # seconds after the start
    duplicate: bool = False


@dataclass
class SendReport:
    deliveries: int = 0
    requests: int = 0
    gave_up: int = 0
    by_status: Counter = field(default_factory=Counter)  # HTTP status of the final answer
    by_result: Counter = field(default_factory=Counter)  # receiver's "status": processed, duplicate, ...
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"deliveries": self.deliveries, "requests": self.requests, "gave_up": self.gave_up,
                "by_status": dict(self.by_status), "by_result": dict(self.by_result),
                "seconds": round(self.seconds, 3)}


class Simulator:
    def __init__(self, *, shop_domain: str, secret: str, sku_to_produto: dict[str, int],
                 config: SimulationConfig | None = None, sellable_skus: list[str] | None = None):
        self.shop_domain = shop_domain
        self._secret = secret
        self.sku_to_produto = dict(sku_to_produto)
        # What the store sells: its Shopify variants' SKUs when known (a demo store's orders and its
        # catalog agree), else the loja's own SKUs. A sold SKU the loja does not map stays unmapped.
        self.sellable_skus = sorted(set(sellable_skus)) if sellable_skus else None
        self.config = config or SimulationConfig()
        self.random = random.Random(self.config.seed)
        start = self.config.order_id_start
        if start is None:  # distinct across runs against the same database
            start = 5_000_000_000_000 + (int(time.time() * 1000) % 10**9) * 1000
        self.next_order_id = start

    def __repr__(self) -> str:
        return f"Simulator(shop_domain={self.shop_domain!r})"

    def _money(self, units: int) -> tuple[str, str]:
        """`units` at the configured unit price, as Shopify writes an amount."""
        from decimal import Decimal

        return str(Decimal(self.config.unit_price) * units), self.config.currency

    # --- the facts ----------------------------------------------------------------------------

    def plan(self, n: int | None = None) -> list[OrderPlan]:
        cfg, rnd = self.config, self.random
        skus = self.sellable_skus or sorted(self.sku_to_produto)
        plans = []
        for _ in range(cfg.orders if n is None else n):
            order_id = self.next_order_id
            self.next_order_id += 1
            lines = []
            for i in range(rnd.randint(1, max(1, cfg.max_lines))):
                roll = rnd.random()
                if roll < cfg.no_sku_rate or not skus:
                    sku = None if roll < cfg.no_sku_rate else f"NAO-MAPEADO-{rnd.randint(1, 50)}"
                elif roll < cfg.no_sku_rate + cfg.unmapped_rate:
                    sku = f"NAO-MAPEADO-{rnd.randint(1, 50)}"
                else:
                    sku = rnd.choice(skus)
                qty = rnd.randint(1, max(1, cfg.max_quantity))
                current = rnd.randint(0, qty - 1) if qty > 1 and rnd.random() < cfg.edited_rate else None
                lines.append(LinePlan(line_id=order_id * 10 + i, sku=sku, quantity=qty, current_quantity=current))
            plan = OrderPlan(order_id=order_id, lines=lines,
                             total=self._money(sum(li.quantity for li in lines)))
            refund_seq = 0
            if rnd.random() < cfg.cancel_rate:
                plan.cancelled = True
                if rnd.random() < 0.5:  # cancelled with restock: Shopify also creates a refund
                    refund_seq += 1
                    plan.refunds.append(RefundPlan(order_id * 100 + refund_seq,
                                                   [(li.line_id, li.quantity, "cancel") for li in lines],
                                                   amount=plan.total))
            elif rnd.random() < cfg.refund_rate:
                for _ in range(rnd.randint(1, 2)):
                    refund_seq += 1
                    picked = rnd.sample(lines, k=rnd.randint(1, len(lines)))
                    refund_lines = [(li.line_id, rnd.randint(1, li.quantity), rnd.choice(RESTOCK_TYPES))
                                    for li in picked]
                    plan.refunds.append(RefundPlan(order_id * 100 + refund_seq, refund_lines,
                                                   amount=self._money(sum(q for _, q, _ in refund_lines))))
            plans.append(plan)
        return plans

    def expected_deltas(self, plans: list[OrderPlan]) -> dict[int, int]:
        """Net stock change per produto once every delivery has arrived: the ledger's model."""
        totals: dict[int, int] = {}
        for plan in plans:
            paid_lines = {}
            produto_of = {}
            for li in plan.lines:
                produto_id = self.sku_to_produto.get(li.sku) if li.sku else None
                if produto_id is None:
                    continue
                item = {"quantity": li.quantity}
                if li.current_quantity is not None:
                    item["current_quantity"] = li.current_quantity
                paid_lines[str(li.line_id)] = {"quantidade": ledger.line_quantity(item)}
                produto_of[str(li.line_id)] = produto_id
            refunds = {str(r.refund_id): ledger.refund_restocks(r.payload(plan.order_id)) for r in plan.refunds}
            wanted = ledger.targets(paid=True, cancelled=plan.cancelled, paid_lines=paid_lines, refunds=refunds)
            for line_id, delta in wanted.items():
                produto_id = produto_of[line_id]
                totals[produto_id] = totals.get(produto_id, 0) + delta
        return totals

    # --- the deliveries -----------------------------------------------------------------------

    def _delivery(self, topic: str, order_id: int, payload: dict) -> Delivery:
        return Delivery(topic=topic, order_id=order_id, body=encode(payload), webhook_id=str(uuid.uuid4()),
                        event_id=str(uuid.uuid4()))

    def deliveries(self, plans: list[OrderPlan]) -> list[Delivery]:
        cfg, rnd = self.config, self.random
        out: list[Delivery] = []
        for plan in plans:
            out.append(self._delivery("orders/paid", plan.order_id, plan.paid_payload()))
            for refund in plan.refunds:
                out.append(self._delivery("refunds/create", plan.order_id, refund.payload(plan.order_id)))
            if plan.cancelled:
                out.append(self._delivery("orders/cancelled", plan.order_id, plan.cancelled_payload()))
        # duplicates: a retry of the same delivery, or the same event delivered again under a new id
        for original in list(out):
            if rnd.random() < cfg.duplicates:
                same_delivery = rnd.random() < 0.5
                out.insert(min(len(out), out.index(original) + rnd.randint(1, 10)), Delivery(
                    topic=original.topic, order_id=original.order_id, body=original.body,
                    webhook_id=original.webhook_id if same_delivery else str(uuid.uuid4()),
                    event_id=original.event_id, duplicate=True))
        # reordering: some deliveries move ahead or behind by up to a window
        for i in range(len(out)):
            if rnd.random() < cfg.reorder:
                j = min(len(out) - 1, max(0, i + rnd.randint(-cfg.reorder_window, cfg.reorder_window)))
                out[i], out[j] = out[j], out[i]
        interval = 1.0 / cfg.rate if cfg.rate > 0 else 0.0
        for i, delivery in enumerate(out):
            delivery.not_before = i * interval + (rnd.uniform(0, cfg.delay) if cfg.delay > 0 else 0.0)
        return out

    def headers(self, delivery: Delivery) -> dict[str, str]:
        return signed_headers(body=delivery.body, secret=self._secret, shop_domain=self.shop_domain,
                              topic=delivery.topic, webhook_id=delivery.webhook_id, event_id=delivery.event_id,
                              api_version=self.config.api_version)

    async def send(self, deliveries: list[Delivery], targets: dict[str, list[str]] | str, *,
                   on_sent: Callable[[Delivery, int, dict], None] | None = None) -> SendReport:
        """Deliver each to every address subscribed to its topic, paced, at least once."""
        cfg = self.config
        report = SendReport(deliveries=len(deliveries))
        gate = asyncio.Semaphore(max(1, cfg.concurrency))
        started = time.monotonic()
        limits = httpx.Limits(max_connections=max(1, cfg.concurrency))

        def addresses(topic: str) -> list[str]:
            if isinstance(targets, str):
                return [targets]
            return list(targets.get(topic, []))

        async with httpx.AsyncClient(timeout=30, limits=limits) as http:

            async def one(delivery: Delivery, url: str) -> None:
                wait = started + delivery.not_before - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                async with gate:
                    status, body = 0, {}
                    for attempt in range(1, cfg.attempts + 1):
                        report.requests += 1
                        try:
                            response = await http.post(url, content=delivery.body, headers=self.headers(delivery))
                            status = response.status_code
                            try:
                                body = response.json()
                            except ValueError:
                                body = {}
                        except httpx.HTTPError:
                            status, body = 0, {}
                        if 200 <= status < 300:
                            break
                        await asyncio.sleep(cfg.retry_base * 2 ** (attempt - 1))
                    else:
                        report.gave_up += 1
                report.by_status[status] += 1
                if isinstance(body, dict) and body.get("status"):
                    report.by_result[body["status"]] += 1
                if on_sent is not None:
                    on_sent(delivery, status, body)

            await asyncio.gather(*(one(d, url) for d in deliveries for url in addresses(d.topic)))
        report.seconds = time.monotonic() - started
        return report


# --- from Django --------------------------------------------------------------------------------


@dataclass
class SimulationResult:
    plans: list[OrderPlan]
    deliveries: list[Delivery]
    expected: dict[int, int]  # produto_id -> net delta
    report: SendReport


def sku_map_for(loja) -> dict[str, int]:
    """Shopify SKU -> produto id, as the receiver matches them (mapeamento first, then equal SKU)."""
    from chegouhub.inventory.models import Mapeamento, Produto

    mapping = dict(Produto.objects.filter(deposito_id=loja.deposito_id).values_list("sku", "pk"))
    mapping.update(dict(Mapeamento.objects.filter(loja=loja).values_list("shopify_sku", "produto_id")))
    return mapping


def targets_from_fake(fake_url: str, shop_domain: str) -> dict[str, list[str]]:
    """The addresses the fake Shopify has subscribed for this shop, by REST topic."""
    from chegouhub.shopify.admin_api import enum_to_topic

    response = httpx.get(f"{fake_url.rstrip('/')}/_fake/shops/{shop_domain}", timeout=10)
    response.raise_for_status()
    targets: dict[str, list[str]] = {}
    for sub in response.json().get("subscriptions", []):
        targets.setdefault(enum_to_topic(sub["topic"]), []).append(sub["uri"])
    return targets


def skus_from_fake(fake_url: str, shop_domain: str) -> list[str]:
    """The SKUs of the shop's variants in the fake Shopify (empty when it has no catalog)."""
    response = httpx.get(f"{fake_url.rstrip('/')}/_fake/shops/{shop_domain}/catalog", timeout=30)
    if response.status_code != 200:
        return []
    return sorted({v["sku"] for v in response.json().get("variants", []) if v.get("sku")})


def record_orders_in_fake(fake_url: str, shop_domain: str, plans: list[OrderPlan]) -> None:
    """Give the fake Shopify the same orders (for reconciliation through its `orders` query)."""
    base = f"{fake_url.rstrip('/')}/_fake/shops/{shop_domain}"
    with httpx.Client(timeout=10) as http:
        for plan in plans:
            order = plan.cancelled_payload() if plan.cancelled else plan.paid_payload()
            order["refunds"] = []
            # A sale takes its units off the store's `available`, as Shopify's own does.
            http.post(f"{base}/orders", json={**order, "baixar_estoque": True}).raise_for_status()
            for refund in plan.refunds:
                http.post(f"{base}/refunds", json=refund.payload(plan.order_id)).raise_for_status()


def simulate(*, loja, config: SimulationConfig, target: str | None = None, fake_url: str | None = None,
             on_sent=None) -> SimulationResult:
    """Plan, send and model one batch for a loja. `target`: a base URL or a full webhook address;
    `fake_url`: deliver to the addresses subscribed in the fake Shopify (and record the orders there)."""
    simulator = Simulator(shop_domain=loja.shop_domain, secret=loja.webhook_secret, sku_to_produto=sku_map_for(loja),
                          config=config, sellable_skus=skus_from_fake(fake_url, loja.shop_domain) if fake_url else None)
    plans = simulator.plan()
    deliveries = simulator.deliveries(plans)
    if fake_url and not target:
        targets: dict[str, list[str]] | str = targets_from_fake(fake_url, loja.shop_domain)
        missing = sorted({d.topic for d in deliveries} - set(targets))
        if missing:
            raise ValueError(f"O fake Shopify não tem webhooks assinados para {', '.join(missing)} nesta loja; "
                             "rode configure_webhooks.")
    else:
        targets = webhook_url(target or "http://127.0.0.1:8000")
    if fake_url:
        record_orders_in_fake(fake_url, loja.shop_domain, plans)
    report = asyncio.run(simulator.send(deliveries, targets, on_sent=on_sent))
    return SimulationResult(plans=plans, deliveries=deliveries, expected=simulator.expected_deltas(plans),
                            report=report)


def webhook_url(target: str) -> str:
    """A base URL becomes the webhook address; a full address is kept."""
    target = target.rstrip("/")
    return target + "/" if target.endswith(WEBHOOK_PATH.rstrip("/")) else target + WEBHOOK_PATH
