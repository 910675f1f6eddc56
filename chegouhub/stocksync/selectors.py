"""What the sync status endpoint and the dashboard show (CONTRACT 10)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, Max, Q
from django.utils import timezone

from chegouhub.stores.models import Loja

from .models import EnvioEstoque, PushPendente

STATUS_WINDOW = timedelta(hours=1)


def _p99(values: list[int]) -> int | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def sync_status(*, user, loja_id: int | None = None) -> list[dict]:
    """Per loja of the user: pending pushes, the last confirmed one, the delay p99 over the last
    hour, the pushes in error (and the last error)."""
    lojas = Loja.objects.filter(owner_id=user.pk).order_by("id")
    if loja_id is not None:
        lojas = lojas.filter(pk=loja_id)
    since = timezone.now() - STATUS_WINDOW
    pending = {row["loja_id"]: row for row in PushPendente.objects.filter(loja__in=lojas).values("loja_id").annotate(
        n=Count("id"), erros=Count("id", filter=~Q(ultimo_erro="")))}
    last = dict(EnvioEstoque.objects.filter(loja__in=lojas).values("loja_id").annotate(m=Max("created_at"))
                .values_list("loja_id", "m"))
    out = []
    for loja in lojas:
        delays = list(EnvioEstoque.objects.filter(loja=loja, created_at__gte=since).order_by("-id")
                      .values_list("atraso_ms", flat=True)[:5000])
        error = (PushPendente.objects.filter(loja=loja).exclude(ultimo_erro="").order_by("-id")
                 .values_list("ultimo_erro", flat=True).first())
        row = pending.get(loja.pk, {})
        out.append({
            "loja_id": loja.pk, "deposito_id": loja.deposito_id, "sincronizar_estoque": loja.sincronizar_estoque,
            "estoque_reserva": loja.estoque_reserva, "pendentes": row.get("n", 0),
            "ultimo_envio": last[loja.pk].isoformat() if last.get(loja.pk) else None,
            "atraso_p99_ms": _p99(delays), "erros": row.get("erros", 0), "ultimo_erro": error or "",
        })
    return out


def recent_pushes(*, user, loja_id: int, limit: int = 20) -> list[dict]:
    """The loja's last confirmed pushes and what waits, per produto (the dashboard's list)."""
    pending = [{"produto_id": p["variante__produto_id"], "sku": p["variante__produto__sku"], "pendente": True,
                "erro": p["ultimo_erro"]}
               for p in PushPendente.objects.filter(loja_id=loja_id, loja__owner_id=user.pk).order_by("id")
               .values("variante__produto_id", "variante__produto__sku", "ultimo_erro")[:limit]]
    sent = [{"produto_id": e["produto_id"], "sku": e["produto__sku"], "pendente": False, "quantidade": e["quantidade"],
             "atraso_ms": e["atraso_ms"], "em": e["created_at"].isoformat()}
            for e in EnvioEstoque.objects.filter(loja_id=loja_id, loja__owner_id=user.pk).order_by("-id")
            .values("produto_id", "produto__sku", "quantidade", "atraso_ms", "created_at")[:limit]]
    return pending + sent
