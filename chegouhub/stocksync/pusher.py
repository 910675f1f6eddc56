"""The push loop of `manage.py push_stock`: ingest, claim, call Shopify, record (services.py).

One event loop; the database steps run in a thread (sync_to_async), the HTTP calls of all lojas
concurrently, one AdminApiClient per loja kept across rounds so its throttle state (Shopify's
bucket, read from every answer) paces the next call. A loja is called at most once per
`STOCK_PUSH_MIN_INTERVAL`: under load the changes of that interval share one call (coalescing),
idle a change goes out at once. A loja whose Shopify shows stock the depósito no longer has (a
variant to take to 0) is called again after `STOCK_PUSH_URGENT_INTERVAL` instead: that is where a
store oversells. In a rush (a depósito selling so fast that one call per store per interval
carries many changes) the calls follow the sales instead: each loja is paced to keep the
depósito within `STOCK_PUSH_CALLS_PER_CHANGE`, and nothing jumps the queue.

A loja waiting to be reconnected (Shopify refused its refresh token) is not claimed: its changes
keep queueing and go out once the install flow has run again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from chegouhub.catalog import remote as catalog_remote
from chegouhub.common.logging import estoque_log
from chegouhub.shopify import tokens
from chegouhub.shopify.admin_api import AdminApiClient, ShopifyError, ShopifyReconnectRequired

from . import remote, services


@dataclass
class Pusher:
    min_interval: float = field(default_factory=lambda: float(settings.STOCK_PUSH_MIN_INTERVAL))
    urgent_interval: float = field(default_factory=lambda: float(settings.STOCK_PUSH_URGENT_INTERVAL))
    # In a rush (services.rush_intervals) the calls follow the sales: 0 turns that off.
    calls_per_change: float = field(default_factory=lambda: float(settings.STOCK_PUSH_CALLS_PER_CHANGE))
    rush_max_interval: float = field(default_factory=lambda: float(settings.STOCK_PUSH_RUSH_MAX_INTERVAL))
    clients: dict[int, tuple[str, AdminApiClient]] = field(default_factory=dict)
    last_call: dict[int, float] = field(default_factory=dict)
    throttle: dict[int, object] = field(default_factory=dict)
    rushing: set[int] = field(default_factory=set)  # the lojas paced now (logged when it changes)
    stats: dict[str, int] = field(default_factory=lambda: {"calls": 0, "confirmed": 0, "skipped": 0, "stale": 0,
                                                           "errors": 0})

    def _client(self, plan: services.LojaPush) -> AdminApiClient:
        fingerprint = f"{plan.shop_domain}|{plan.api_version}"
        known = self.clients.get(plan.loja_id)
        if known is None or known[0] != fingerprint:  # a new shop or version: a new client
            client = AdminApiClient(shop_domain=plan.shop_domain, access_token=plan.access_token,
                                    credential=plan.credential, api_version=plan.api_version or None)
            client.throttle = self.throttle.get(plan.loja_id)
            self.clients[plan.loja_id] = (fingerprint, client)
            return client
        # The same client (its throttle state) with the token as claimed now: renewed by any process.
        client = known[1]
        if plan.credential is not None and (client.credential is None
                                            or client.credential.access_token != plan.credential.access_token):
            client.credential = plan.credential
        return client

    async def aclose(self) -> None:
        for loja_id, (_, client) in self.clients.items():
            self.throttle[loja_id] = client.throttle  # Shopify's bucket, as last read: the next client starts from it
            await client.aclose()
        self.clients.clear()

    def _paces(self) -> bool:
        """Pacing in a rush is on (no coalescing, as in `--once`: no pacing either)."""
        return self.min_interval > 0 and self.calls_per_change > 0

    def _longest(self) -> float:
        """The longest interval a loja may have to wait for."""
        return max(self.min_interval, self.rush_max_interval if self._paces() else 0.0)

    def _recent(self, now: float) -> dict[int, float]:
        """The lojas called within the longest interval, with the seconds since."""
        return {loja: now - at for loja, at in self.last_call.items() if now - at < self._longest()}

    def busy(self) -> bool:
        """A loja was called within its interval's reach: more may fall due any moment."""
        return bool(self._recent(time.monotonic()))

    def _claim(self) -> list[services.LojaPush]:
        services.ingest_all()
        ago = self._recent(time.monotonic())
        # A loja called a moment ago waits for its interval: the paced one in a rush, otherwise
        # `min_interval`, unless its Shopify shows stock that is gone (a variant to take to 0):
        # then it goes after `urgent_interval`, the rest riding along. In a rush nothing jumps the
        # pace: every call carries many changes, and the sold-out one rides in the next.
        paced = services.rush_intervals(set(ago) if self._paces() else set(),
                                        calls_per_change=self.calls_per_change, longest=self.rush_max_interval)
        self._log_rush(paced)
        waiting = {loja for loja, s in ago.items() if s < max(paced.get(loja, 0.0), self.min_interval)}
        urgent = services.lojas_selling_what_is_gone(
            {loja for loja in waiting - paced.keys() if ago[loja] >= self.urgent_interval})
        return services.claim_pushes(skip_lojas=(waiting - urgent) | tokens.lojas_waiting_to_reconnect())

    def _log_rush(self, paced: dict[int, float]) -> None:
        for loja in paced.keys() - self.rushing:
            estoque_log.info("stock push paced: the depósito is in a rush",
                             extra={"loja_id": loja, "intervalo_s": round(paced[loja], 2)})
        for loja in self.rushing - paced.keys():
            estoque_log.info("stock push no longer paced", extra={"loja_id": loja})
        self.rushing = set(paced)

    @staticmethod
    def _settled(outcomes) -> int:
        """Variants this round moved along: confirmed, already right, or re-read after a stale
        answer (pushed again in the next round)."""
        return sum(len(o.confirmed) + len(o.skipped) + len(o.reread) + len(o.stale) for o in outcomes)

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
        except ShopifyReconnectRequired:
            # Not an error of these rows: released as they are (no back-off), and the loja is not
            # claimed again until it is reconnected.
            estoque_log.warning("stock push waits: the loja must be reconnected", extra={"loja_id": plan.loja_id})
            return out
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
        unknown = [i for i in plan.items if i.esperado is None]
        expected = {i.variante_id: i.esperado for i in plan.items}
        if unknown:  # never read (a link made before its level existed): read before comparing
            found = await remote.read_available(client, location_id=plan.location_id,
                                                inventory_item_ids=[i.inventory_item_id for i in unknown])
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
        result = await self._set(client, plan, changes, by_item)
        if result.stale:
            # Nothing was applied (all or nothing). The stale items are most often this store's
            # own sales whose webhooks are still on their way: they wait a moment (and are read
            # from Shopify only if they stay stale, see services.STALE_GRACE_SECONDS), and the rest
            # of the call goes again at once without them.
            stale = set(result.stale)
            self.stats["stale"] += len(stale)
            now = timezone.now()
            overdue = [by_item[i] for i in stale if by_item[i].stale_desde is not None
                       and (now - by_item[i].stale_desde).total_seconds() >= services.STALE_GRACE_SECONDS]
            if overdue:
                found = await remote.read_available(client, location_id=plan.location_id,
                                                    inventory_item_ids=[i.inventory_item_id for i in overdue])
                for item in overdue:
                    out.reread[item.variante_id] = found.get(item.inventory_item_id)
            out.stale += [by_item[i].variante_id for i in stale if by_item[i].variante_id not in out.reread]
            changes = [c for c in changes if c.inventory_item_id not in stale]
            if not changes:
                return
            result = await self._set(client, plan, changes, by_item)
            if result.stale:  # again: those wait too; the rest goes in the next round
                out.stale += [by_item[i].variante_id for i in result.stale]
                return
        if result.errors:
            out.error = "; ".join(result.errors)[:500]
            return
        for c in changes:
            item = by_item[c.inventory_item_id]
            out.confirmed[item.variante_id] = result.applied.get(c.inventory_item_id, c.quantity)
        self.stats["confirmed"] += len(changes)

    async def _set(self, client, plan: services.LojaPush, changes: list[remote.QuantityChange],
                   by_item: dict) -> remote.SetResult:
        key = plan.idempotency_key([(c.inventory_item_id, c.quantity, c.change_from) for c in changes])
        newest = max(by_item[c.inventory_item_id].evento_id for c in changes)
        result = await remote.set_quantities(client, location_id=plan.location_id, changes=changes,
                                             idempotency_key=key,
                                             reference_uri=f"gid://chegouhub/EventoEstoque/{newest}")
        self.stats["calls"] += 1
        return result


# While a loja was called in the last interval (a sale in progress), look this often: a loja's
# urgent or regular turn comes in the middle of a pause, and the pause adds to the units a store can
# oversell meanwhile (bench.oversold: 7 units at 0.05 s against 10-15 at 0.1 s). Idle: `interval`.
BUSY_POLL_SECONDS = 0.05


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
                    await asyncio.wait_for(stop.wait(), min(interval, BUSY_POLL_SECONDS) if pusher.busy() else interval)
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)
    finally:
        await pusher.aclose()
    return pusher
