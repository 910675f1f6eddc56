"""Catalog import (CONTRACT section 9): one named function per business action.

- `queue_import`: a durable `Importacao` row (one queued or running per loja);
- `claim_next_import`: a worker takes one with a conditional UPDATE (two never take the same);
- `run_import`: reads the shop's variants (pages, or a bulk operation above
  `CATALOG_BULK_THRESHOLD`) and applies them batch by batch with `apply_variant_batch`;
- `apply_variant_batch`: one transaction per batch: known variants keep their produto (names
  follow Shopify's when Shopify renamed the variant, stock is never touched), new variants are
  linked to the produto their SKU names (a mapeamento first, then an equal SKU: the sales' rule),
  and the rest become produtos whose initial stock is Shopify's `available` at the loja's location,
  as `importacao` movements. Variants without a SKU are counted and listed.

The remote part runs on one asyncio runner per import; the database work between its steps is
plain synchronous Django in the worker's thread. A failure (a revoked token, Shopify down) ends
the import as `falhou` with a clear sentence; what earlier batches applied stays. A loja waiting to
be reconnected (Shopify refused its refresh token) keeps its import queued: not claimed until the
install flow has run again, which finds it and lets it run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from chegouhub.common.logging import estoque_log
from chegouhub.inventory.models import Origem, Produto
from chegouhub.inventory.services import apply_stock_changes, resolve_skus
from chegouhub.realtime.events import NewEvent, record_events
from chegouhub.shopify.admin_api import AdminApiClient, ShopifyAuthError, ShopifyError, ShopifyReconnectRequired
from chegouhub.shopify.tokens import client_for_loja
from chegouhub.stores.models import Loja

from . import remote
from .models import ImportMode, Importacao, ImportStatus, VarianteShopify
from .remote import ShopifyVariant

LEASE_SECONDS = 300
MAX_LISTED_WITHOUT_SKU = 1000  # the importação lists at most this many; `sem_sku` counts them all


# --- queueing and claiming ------------------------------------------------------------------


def queue_import(*, loja: Loja, user=None, conectar: bool = False) -> tuple[Importacao, bool]:
    """The loja's pending import, or a new one. Returns (importação, created)."""
    with transaction.atomic():
        Loja.objects.select_for_update().filter(pk=loja.pk).first()  # one queueing at a time per loja
        pending = Importacao.objects.filter(loja=loja, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]).first()
        if pending is not None:
            if conectar and not pending.conectar:
                Importacao.objects.filter(pk=pending.pk).update(conectar=True)
            return pending, False
        importacao = Importacao.objects.create(loja=loja, solicitada_por=user, conectar=conectar)
    return importacao, True


def _claimable(now) -> Q:
    # A running import whose lease ran out belongs to a worker that died: it is taken again.
    return Q(status=ImportStatus.QUEUED) | Q(status=ImportStatus.RUNNING, ativa_ate__lt=now)


def claim_import(importacao_id: int) -> bool:
    now = timezone.now()
    return bool(
        Importacao.objects.filter(pk=importacao_id).filter(_claimable(now)).update(
            status=ImportStatus.RUNNING, iniciada_em=now, ativa_ate=now + timedelta(seconds=LEASE_SECONDS)
        )
    )


def claim_next_import() -> Importacao | None:
    now = timezone.now()
    waiting = Importacao.objects.filter(_claimable(now)).exclude(loja__reconectar_desde__isnull=False)
    for pk in waiting.order_by("id").values_list("pk", flat=True)[:20]:
        if claim_import(pk):
            return Importacao.objects.select_related("loja").get(pk=pk)
    return None


# --- applying a batch -------------------------------------------------------------------------


@dataclass
class BatchCounts:
    processados: int = 0
    criados: int = 0
    vinculados: int = 0
    sem_sku: list[dict] = field(default_factory=list)


def plan_variant_batch(*, loja: Loja, variants: list[ShopifyVariant], planned: set[str] | None = None) -> dict:
    """What a batch would do, read-only: links known, SKUs resolved, SKUs to create.

    `planned` carries the SKUs a dry run already "created" in earlier batches.
    """
    with_sku = [v for v in variants if v.sku]
    links = {link.shopify_variant_id: link for link in VarianteShopify.objects.filter(
        loja=loja, shopify_variant_id__in=[v.variant_id for v in with_sku])}
    new = [v for v in with_sku if v.variant_id not in links]
    resolved = resolve_skus(loja_id=loja.pk, deposito_id=loja.deposito_id, skus={v.sku for v in new})
    to_create: dict[str, ShopifyVariant] = {}
    for v in new:  # two variants with one SKU: the first creates the produto, the second links to it
        if v.sku not in resolved and v.sku not in to_create and v.sku not in (planned or ()):
            to_create[v.sku] = v
    return {"with_sku": with_sku, "links": links, "new": new, "resolved": resolved, "to_create": to_create,
            "sem_sku": [{"shopify_variant_id": v.variant_id, "titulo": v.titulo} for v in variants if not v.sku]}


def apply_variant_batch(*, importacao: Importacao, loja: Loja, variants: list[ShopifyVariant]) -> BatchCounts:
    """Apply one batch of the shop's variants, in one transaction (see the module's docstring)."""
    now = timezone.now()
    with transaction.atomic():
        plan = plan_variant_batch(loja=loja, variants=variants)
        to_create, resolved = plan["to_create"], plan["resolved"]
        created = Produto.objects.bulk_create(
            [Produto(loja=loja, deposito_id=loja.deposito_id, sku=sku, nome=v.titulo, estoque_minimo=0)
             for sku, v in to_create.items()]
        )
        for produto in created:
            resolved[produto.sku] = produto.pk
        deltas = {p.pk: to_create[p.sku].disponivel for p in created if to_create[p.sku].disponivel}
        if deltas:
            result = apply_stock_changes(deposito_id=loja.deposito_id, loja_id=loja.pk, deltas=deltas,
                                         origem=Origem.IMPORTACAO, referencia=f"importacao-{importacao.pk}",
                                         motivo="Estoque inicial importado da Shopify")
            record_events(result.events)
        VarianteShopify.objects.bulk_create([
            VarianteShopify(loja=loja, produto_id=resolved[v.sku], shopify_variant_id=v.variant_id,
                            inventory_item_id=v.inventory_item_id, sku=v.sku, titulo=v.titulo,
                            shopify_disponivel=v.disponivel, sincronizado_em=now)
            for v in plan["new"]
        ])
        _refresh_known(plan["links"], {v.variant_id: v for v in plan["with_sku"]}, now)
        counts = BatchCounts(processados=len(variants), criados=len(created),
                             vinculados=len(plan["with_sku"]) - len(created), sem_sku=plan["sem_sku"])
        _add_progress(importacao.pk, counts, now)
    return counts


def _refresh_known(links: dict[int, VarianteShopify], by_id: dict[int, ShopifyVariant], now) -> None:
    """Known variants: their link follows Shopify; their produto's name follows a Shopify rename
    (a name the merchant changed in ChegouHub stays until Shopify's changes); stock never."""
    renamed: dict[int, str] = {}
    for variant_id, link in links.items():
        v = by_id[variant_id]
        if v.titulo != link.titulo:
            renamed[link.produto_id] = v.titulo
        link.sku, link.titulo, link.inventory_item_id = v.sku, v.titulo, v.inventory_item_id
        # Read, not confirmed: a sale in flight may already be in it (stocksync pushes it once).
        link.shopify_disponivel, link.shopify_confirmado, link.sincronizado_em = v.disponivel, False, now
    if links:
        VarianteShopify.objects.bulk_update(
            list(links.values()),
            ["sku", "titulo", "inventory_item_id", "shopify_disponivel", "shopify_confirmado", "sincronizado_em"],
        )
    for produto_id, nome in renamed.items():
        Produto.objects.filter(pk=produto_id).update(nome=nome, updated_at=now)


def _add_progress(importacao_id: int, counts: BatchCounts, now) -> None:
    importacao = Importacao.objects.select_for_update().get(pk=importacao_id)
    listed = importacao.variantes_sem_sku
    room = MAX_LISTED_WITHOUT_SKU - len(listed)
    if counts.sem_sku and room > 0:
        importacao.variantes_sem_sku = listed + counts.sem_sku[:room]
    importacao.processados += counts.processados
    importacao.criados += counts.criados
    importacao.vinculados += counts.vinculados
    importacao.sem_sku += len(counts.sem_sku)
    importacao.ativa_ate = now + timedelta(seconds=LEASE_SECONDS)
    importacao.save(update_fields=["variantes_sem_sku", "processados", "criados", "vinculados", "sem_sku",
                                   "ativa_ate"])
    loja = Loja.objects.only("id", "owner_id").get(pk=importacao.loja_id)
    record_events([NewEvent(type="importacao_progresso", loja_id=loja.pk, user_id=loja.owner_id, data={
        "loja_id": loja.pk, "importacao_id": importacao.pk, "total": importacao.total,
        "processados": importacao.processados, "criados": importacao.criados, "vinculados": importacao.vinculados,
        "sem_sku": importacao.sem_sku})])


# --- running an import ------------------------------------------------------------------------


def _client_for(loja: Loja, meter: remote.CostMeter) -> AdminApiClient:
    return client_for_loja(loja, http=remote.metered_http(meter))


async def _next(agen):
    try:
        return await agen.__anext__()
    except StopAsyncIteration:
        return None


def _connect(loja: Loja) -> list[str]:
    """After an install: the loja's webhooks, and its name from Shopify while it still has the
    placeholder the install gave it. Returns the problems to report (never raises)."""
    from chegouhub.shopify import subscriptions

    if loja.nome == loja.shop_domain.split(".")[0]:
        shop = subscriptions.test_connectivity(lojas=[loja]).results[0].shop or {}
        if shop.get("nome"):
            Loja.objects.filter(pk=loja.pk).update(nome=str(shop["nome"])[:200])
    try:
        summary = subscriptions.configure_webhooks(
            lojas=[loja], base_domain=subscriptions.normalize_base_domain(settings.WEBHOOK_BASE_DOMAIN))
    except ValueError as exc:
        return [f"Webhooks não configurados: {exc}"]
    result = summary.results[0]
    return [] if result.ok else [f"Webhooks não configurados: {result.erro}"]


ProgressCallback = Callable[[Importacao], None]


def run_import(importacao: Importacao, *, on_progress: ProgressCallback | None = None,
               bulk_threshold: int | None = None) -> Importacao:
    """Run a claimed import to its end (concluida or falhou) and return it refreshed."""
    loja = Loja.objects.get(pk=importacao.loja_id)
    threshold = settings.CATALOG_BULK_THRESHOLD if bulk_threshold is None else bulk_threshold
    problems: list[str] = _connect(loja) if importacao.conectar else []
    meter = remote.CostMeter()
    client = _client_for(loja, meter)
    failure: str | None = None
    try:
        with asyncio.Runner() as runner:
            try:
                failure = _import_with(runner, client, importacao, loja, threshold, on_progress)
            except ShopifyReconnectRequired:
                return requeue_import(importacao.pk, problems=problems)
            finally:
                runner.run(client.aclose())
    finally:
        _record_cost(importacao.pk, client, meter)
    return finish_import(importacao.pk, failure=failure, problems=problems)


def requeue_import(importacao_id: int, *, problems: list[str] = ()) -> Importacao:
    """Back in the queue, waiting for the loja's reconnection (what was applied stays; an import
    again creates nothing twice)."""
    Importacao.objects.filter(pk=importacao_id).update(status=ImportStatus.QUEUED, ativa_ate=None)
    estoque_log.warning("catalog import waits: the loja must be reconnected", extra={"importacao_id": importacao_id})
    return Importacao.objects.get(pk=importacao_id)


def _import_with(runner, client, importacao, loja, threshold, on_progress) -> str | None:
    try:
        if not loja.location_id:  # the primary location by default, read at connection
            location = runner.run(remote.primary_location(client))
            loja.location_id = location["id"]
            Loja.objects.filter(pk=loja.pk, location_id="").update(location_id=location["id"])
        total = runner.run(remote.count_variants(client))
        mode = ImportMode.BULK if total > threshold else ImportMode.PAGES
        # A bulk operation is polled without a batch to renew the lease: hold it for the whole wait.
        lease = remote.BULK_TIMEOUT_SECONDS + LEASE_SECONDS if mode == ImportMode.BULK else LEASE_SECONDS
        Importacao.objects.filter(pk=importacao.pk).update(
            total=total, modo=mode, ativa_ate=timezone.now() + timedelta(seconds=lease))
        importacao.total, importacao.modo = total, mode
        if on_progress:
            on_progress(importacao)
        source = (remote.bulk_variants(client, location_id=loja.location_id) if mode == ImportMode.BULK
                  else remote.variant_pages(client, location_id=loja.location_id, expected=total))
        while (batch := runner.run(_next(source))) is not None:
            try:
                apply_variant_batch(importacao=importacao, loja=loja, variants=batch)
            except IntegrityError:
                # someone created one of these SKUs meanwhile (the dashboard, the API): plan again,
                # and it is linked instead of created
                apply_variant_batch(importacao=importacao, loja=loja, variants=batch)
            if on_progress:
                importacao.refresh_from_db()
                on_progress(importacao)
        return None
    except ShopifyReconnectRequired:
        raise
    except ShopifyAuthError:
        return ("A Shopify recusou o token da loja durante a importação (app desinstalado ou token revogado). "
                "O que já foi importado foi mantido; reconecte a loja e importe de novo.")
    except ShopifyError as exc:
        return f"A importação parou: {exc.message} O que já foi importado foi mantido."


def _record_cost(importacao_id: int, client: AdminApiClient, meter: remote.CostMeter) -> None:
    Importacao.objects.filter(pk=importacao_id).update(
        requisicoes=F("requisicoes") + client.stats.requests, custo=F("custo") + int(round(meter.points)),
        limitadas=F("limitadas") + client.stats.throttled + client.stats.http_429,
    )


def finish_import(importacao_id: int, *, failure: str | None, problems: list[str] = ()) -> Importacao:
    """Close the import and tell the loja's owner (after commit, like every event)."""
    now = timezone.now()
    with transaction.atomic():
        importacao = Importacao.objects.select_for_update().select_related("loja").get(pk=importacao_id)
        importacao.erros = list(importacao.erros) + list(problems) + ([failure] if failure else [])
        importacao.status = ImportStatus.FAILED if failure else ImportStatus.DONE
        importacao.concluida_em = now
        importacao.ativa_ate = None
        importacao.save(update_fields=["erros", "status", "concluida_em", "ativa_ate"])
        loja = importacao.loja
        if failure:
            event = NewEvent(type="system_notification", loja_id=loja.pk, user_id=loja.owner_id, priority="alta",
                             data={"message": f"Importação do catálogo de {loja.nome} falhou: {failure}",
                                   "priority": "alta"})
        else:
            event = NewEvent(type="catalogo_importado", loja_id=loja.pk, user_id=loja.owner_id,
                             data={"loja_id": loja.pk, "importacao_id": importacao.pk, "criados": importacao.criados,
                                   "vinculados": importacao.vinculados, "sem_sku": importacao.sem_sku})
        record_events([event])
    estoque_log.info("catalog import finished", extra={
        "loja_id": loja.pk, "importacao_id": importacao.pk, "status": importacao.status, "modo": importacao.modo,
        "total": importacao.total, "processados": importacao.processados, "criados": importacao.criados,
        "vinculados": importacao.vinculados, "sem_sku": importacao.sem_sku, "requisicoes": importacao.requisicoes,
        "custo": importacao.custo, "limitadas": importacao.limitadas})
    return importacao


def run_pending_imports(*, limit: int | None = None, on_progress: ProgressCallback | None = None) -> list[Importacao]:
    """The worker's loop body: claim and run imports until none is waiting (or `limit` ran)."""
    done = []
    while limit is None or len(done) < limit:
        importacao = claim_next_import()
        if importacao is None:
            break
        try:
            done.append(run_import(importacao, on_progress=on_progress))
        except Exception as exc:  # a bug or an outage must not leave the import running forever
            estoque_log.exception("catalog import crashed", extra={"importacao_id": importacao.pk})
            done.append(finish_import(importacao.pk, failure=f"Erro interno na importação ({type(exc).__name__})."))
    return done


# --- a dry run --------------------------------------------------------------------------------


@dataclass
class DryRun:
    total: int = 0
    modo: str = ""
    processados: int = 0
    criados: int = 0
    vinculados: int = 0
    sem_sku: int = 0
    erro: str | None = None


def dry_run_import(loja: Loja, *, on_progress: Callable[[DryRun], None] | None = None,
                   bulk_threshold: int | None = None) -> DryRun:
    """What an import would do, reading Shopify and the database and writing nothing."""
    threshold = settings.CATALOG_BULK_THRESHOLD if bulk_threshold is None else bulk_threshold
    result = DryRun()
    planned: set[str] = set()
    meter = remote.CostMeter()
    client = _client_for(loja, meter)
    with asyncio.Runner() as runner:
        try:
            location_id = loja.location_id or runner.run(remote.primary_location(client))["id"]
            result.total = runner.run(remote.count_variants(client))
            result.modo = ImportMode.BULK if result.total > threshold else ImportMode.PAGES
            source = (remote.bulk_variants(client, location_id=location_id) if result.modo == ImportMode.BULK
                      else remote.variant_pages(client, location_id=location_id, expected=result.total))
            while (batch := runner.run(_next(source))) is not None:
                plan = plan_variant_batch(loja=loja, variants=batch, planned=planned)
                planned.update(plan["to_create"])
                result.processados += len(batch)
                result.criados += len(plan["to_create"])
                result.vinculados += len(plan["with_sku"]) - len(plan["to_create"])
                result.sem_sku += len(plan["sem_sku"])
                if on_progress:
                    on_progress(result)
        except ShopifyError as exc:
            result.erro = exc.message
        finally:
            runner.run(client.aclose())
    return result
