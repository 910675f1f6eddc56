"""The push loop of `manage.py push_stock`: ingest, claim, call Shopify, record (services.py).

One event loop; the database steps run in a thread (sync_to_async), the HTTP calls of all lojas
concurrently, one AdminApiClient per loja kept across rounds so its throttle state (Shopify's
bucket, read from every answer) paces the next call. A loja is called at most once per
`STOCK_PUSH_MIN_INTERVAL`: under load the changes of that interval share one call (coalescing),
idle a change goes out at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings

from chegouhub.catalog import remote as catalog_remote
from chegouhub.common.logging import estoque_log
from chegouhub.shopify.admin_api import AdminApiClient, ShopifyError

from . import remote, services

MAX_SETS_PER_PUSH = 2  # a set, and once more without the items it found stale
STALE_BEFORE_READ = 2  # stale answers in a row before an item's quantity is read from Shopify


@dataclass
class Pusher:
    min_interval: float = field(default_factory=lambda: float(settings.STOCK_PUSH_MIN_INTERVAL))
    clients: dict[int, tuple[str, AdminApiClient]] = field(default_factory=dict)
    last_call: dict[int, float] = field(default_factory=dict)
    throttle: dict[int, object] = field(default_factory=dict)
    stale_streak: dict[int, int] = field(default_factory=dict)  # variante id -> stale answers in a row
    stats: dict[str, int] = field(default_factory=lambda: {"calls": 0, "confirmed": 0, "skipped": 0, "stale": 0,
                                                           "errors": 0})

    def _client(self, plan: services.LojaPush) -> AdminApiClient:
        fingerprint = f"{plan.shop_domain}|{plan.api_version}|{hash(plan.access_token)}"
        known = self.clients.get(plan.loja_id)
        if known is None or known[0] != fingerprint:  # a new token or version: a new client
            client = AdminApiClient(shop_domain=plan.shop_domain, access_token=plan.access_token,
                                    api_version=plan.api_version or None)
            client.throttle = self.throttle.get(plan.loja_id)
            self.clients[plan.loja_id] = (fingerprint, client)
            return client
        return known[1]

    async def aclose(self) -> None:
        for loja_id, (_, client) in self.clients.items():
            self.throttle[loja_id] = client.throttle  # Shopify's bucket, as last read: the next client starts from it
            await client.aclose()
        self.clients.clear()

    def _claim(self) -> list[services.LojaPush]:
        services.ingest_all()
        now = time.monotonic()
        recent = {loja for loja, at in self.last_call.items() if now - at < self.min_interval}
        return services.claim_pushes(skip_lojas=recent)

    @staticmethod
    def _settled(outcomes) -> int:
        return sum(len(o.confirmed) + len(o.skipped) for o in outcomes)

    async def round(self) -> int:
        """One round (the command's loop); the number of variants settled (confirmed or already right)."""
        plans = await sync_to_async(self._claim)()
        if not plans:
            return 0
        outcomes = await asyncio.gather(*(self.push(plan) for plan in plans))
        await sync_to_async(services.record_results)(list(outcomes))
        return self._settled(outcomes)

    def round_sync(self) -> int:
        """One round from synchronous code (tests, `--once`): the database in this thread, the
        calls in an event loop of their own, closed at the end (clients too)."""
        plans = self._claim()
        if not plans:
            return 0

        async def push_all():
            try:
                return await asyncio.gather(*(self.push(plan) for plan in plans))
            finally:
                await self.aclose()

        outcomes = asyncio.run(push_all())
        services.record_results(list(outcomes))
        return self._settled(outcomes)

    def drain_sync(self, max_rounds: int = 20) -> int:
        """Rounds until nothing is due (tests, `--once`)."""
        settled = 0
        for _ in range(max_rounds):
            n = self.round_sync()
            settled += n
            if not n:
                break
        return settled

    async def push(self, plan: services.LojaPush) -> services.PushOutcome:
        out = services.PushOutcome(plan=plan)
        try:
            await self._push(plan, out)
        except ShopifyError as exc:
            out.error = str(exc)[:500]
        except Exception as exc:  # never the loop: the rows back off and are tried again
            estoque_log.exception("stock push failed", extra={"loja_id": plan.loja_id})
            out.error = f"{type(exc).__name__}"
        if out.error:
            self.stats["errors"] += 1
            estoque_log.warning("stock push failed; will retry", extra={"loja_id": plan.loja_id,
                                                                       "itens": len(plan.items), "erro": out.error})
        return out

    async def _push(self, plan: services.LojaPush, out: services.PushOutcome) -> None:
        client = self._client(plan)
        if not plan.location_id:
            plan.location_id = out.location_id = (await catalog_remote.primary_location(client))["id"]
            out.calls += 1
        unknown = [i for i in plan.items if i.esperado is None]
        expected = {i.variante_id: i.esperado for i in plan.items}
        if unknown:  # never read (a link made before its level existed): read before comparing
            found = await remote.read_available(client, location_id=plan.location_id,
                                                inventory_item_ids=[i.inventory_item_id for i in unknown])
            out.calls += 1
            for i in unknown:
                expected[i.variante_id] = found.get(i.inventory_item_id)
                out.reread[i.variante_id] = found.get(i.inventory_item_id)
        changes, by_item = [], {}
        for i in plan.items:
            have = expected[i.variante_id]
            if have == i.quantidade and (i.confirmado and i.esperado is not None):
                out.skipped.append(i.variante_id)  # Shopify already shows it: nothing to send
                continue
            if have is None:  # not stocked at the loja's location: nothing to set; retried later
                out.failed[i.variante_id] = "O item não está estocado no local da loja na Shopify."
                continue
            changes.append(remote.QuantityChange(i.inventory_item_id, i.quantidade, have))
            by_item[i.inventory_item_id] = i
        self.stats["skipped"] += len(out.skipped)
        if not changes:
            return
        self.last_call[plan.loja_id] = time.monotonic()
        for _ in range(MAX_SETS_PER_PUSH):
            key = plan.idempotency_key([(c.inventory_item_id, c.quantity, c.change_from) for c in changes])
            newest = max(by_item[c.inventory_item_id].evento_id for c in changes)
            result = await remote.set_quantities(client, location_id=plan.location_id, changes=changes,
                                                 idempotency_key=key,
                                                 reference_uri=f"gid://chegouhub/EventoEstoque/{newest}")
            out.calls += 1
            self.stats["calls"] += 1
            if not result.stale:
                break
            # Nothing was applied (all or nothing). The others, refused only because they shared
            # the call, go again now (a round later, another of the store's own sales could make
            # that call stale too, and under load the loja would never get a push through). The
            # stale items go again next round with the stock as it is then: the first time as they
            # are, for what made them stale is almost always a sale of that store whose webhook had
            # not arrived (its arrival corrects the expected quantity, and a read now would count
            # it twice); stale again, they take Shopify's quantities (a hand edit in the admin).
            self.stats["stale"] += len(result.stale)
            again = []
            for item_id in result.stale:
                variante_id = by_item[item_id].variante_id
                self.stale_streak[variante_id] = self.stale_streak.get(variante_id, 0) + 1
                if self.stale_streak[variante_id] >= STALE_BEFORE_READ:
                    again.append(item_id)
            if again:
                found = await remote.read_available(client, location_id=plan.location_id, inventory_item_ids=again)
                out.calls += 1
                for item_id, quantity in found.items():
                    out.reread[by_item[item_id].variante_id] = quantity
                    self.stale_streak.pop(by_item[item_id].variante_id, None)
            stale = set(result.stale)
            changes = [c for c in changes if c.inventory_item_id not in stale]
            if not changes:
                return
        else:
            return  # stale every time: the rest waits for the next round too
        if result.errors:
            out.error = "; ".join(result.errors)[:500]
            return
        for c in changes:
            item = by_item[c.inventory_item_id]
            out.confirmed[item.variante_id] = result.applied.get(c.inventory_item_id, c.quantity)
            self.stale_streak.pop(item.variante_id, None)
        self.stats["confirmed"] += len(changes)


async def run(*, stop: asyncio.Event, interval: float, pusher: Pusher | None = None) -> Pusher:
    """Rounds until `stop` is set."""
    pusher = pusher or Pusher()
    try:
        while not stop.is_set():
            try:
                settled = await pusher.round()
            except Exception:  # the database away, say: the loop waits and tries again
                estoque_log.exception("stock push round failed")
                settled = 0
            if not settled:
                try:
                    await asyncio.wait_for(stop.wait(), interval)
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)
    finally:
        await pusher.aclose()
    return pusher
