"""A user sees and changes only their own lojas and what hangs under them; others' answer 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chegouhub.inventory.models import Mapeamento
from chegouhub.inventory.services import adjust_stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_user, make_loja, make_produto):
    loja = make_loja(other_user)
    produto = make_produto(loja, "THEIRS", estoque=3, minimo=5)  # opens an alert
    adjust_stock(produto=produto, quantidade=-1, motivo="x")
    mapeamento = Mapeamento.objects.create(loja=loja, shopify_sku="S", produto=produto)
    return {"loja": loja, "produto": produto, "mapeamento": mapeamento}


DETAIL_URLS = [
    "/api/lojas/{loja}/",
    "/api/estoque/produtos/{produto}/",
    "/api/estoque/mapeamentos/{mapeamento}/",
]


@pytest.mark.parametrize("template", DETAIL_URLS)
@pytest.mark.parametrize("method", ["get", "patch", "put", "delete"])
def test_others_objects_answer_404(api, theirs, template, method):
    url = template.format(loja=theirs["loja"].pk, produto=theirs["produto"].pk, mapeamento=theirs["mapeamento"].pk)
    r = getattr(api, method)(url, {}, format="json")
    assert r.status_code == 404


def test_others_movements_alerts_and_deliveries_are_invisible(api, theirs):
    from chegouhub.inventory.models import Alerta, Movimentacao

    mov = Movimentacao.objects.filter(produto=theirs["produto"]).first()
    alerta = Alerta.objects.filter(produto=theirs["produto"]).first()
    assert api.get(f"/api/estoque/movimentacoes/{mov.pk}/").status_code == 404
    assert api.get(f"/api/estoque/alertas/{alerta.pk}/").status_code == 404
    for url in ["/api/lojas/", "/api/estoque/produtos/", "/api/estoque/movimentacoes/", "/api/estoque/mapeamentos/",
                "/api/estoque/alertas/", "/api/estoque/webhook/entregas/",
                f"/api/estoque/produtos/?loja_id={theirs['loja'].pk}",
                f"/api/estoque/movimentacoes/?loja_id={theirs['loja'].pk}"]:
        assert api.get(url).json()["results"] == [], url  # lists paged by cursor have no count


def test_cannot_move_others_stock_or_create_under_their_loja(api, theirs):
    r = api.post(f"/api/estoque/produtos/{theirs['produto'].pk}/movimentacoes/", {"quantidade": 5, "motivo": "x"},
                 format="json")
    assert r.status_code == 404
    r = api.post("/api/estoque/produtos/", {"loja_id": theirs["loja"].pk, "sku": "X", "nome": "x"}, format="json")
    assert r.status_code == 400
    r = api.post("/api/estoque/mapeamentos/", {"loja_id": theirs["loja"].pk, "shopify_sku": "Z",
                                                "produto_id": theirs["produto"].pk}, format="json")
    assert r.status_code == 400


def test_stats_and_events_are_scoped(api, theirs, post_webhook):
    from chegouhub.devtools.payloads import order_payload

    post_webhook(theirs["loja"], "orders/paid", order_payload(1, [(1, "THEIRS", 1)]))
    stats = api.get(f"/api/estoque/webhook/stats/?days=1&loja_id={theirs['loja'].pk}").json()
    assert stats["total"] == 0
    events = api.get(f"/api/sync-realtime/events/?since=0&loja_id={theirs['loja'].pk}").json()
    assert events["events"] == []
    assert api.get("/api/sync-realtime/events/?since=0").json()["events"] == []
    owner = APIClient()
    owner.force_authenticate(theirs["loja"].owner)
    assert owner.get("/api/sync-realtime/events/?since=0").json()["events"]
