"""Lojas for the differential test, made ahead (the same way on every database): each sequence
takes a fresh one, so a sequence costs only its deliveries and its reads."""

from __future__ import annotations

SKUS = ["A", "B", "C", "D"]
INITIAL, MINIMO = 12, 3


def seed(count: int, name: str, username: str = "diff") -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from chegouhub.inventory.models import Mapeamento
    from chegouhub.inventory.services import create_produto
    from chegouhub.stores.models import Loja

    user = get_user_model().objects.get(username=username)
    made = []
    with transaction.atomic():
        for n in range(count):
            secret = f"shpss_diff_{name}_{n}"
            loja = Loja.objects.create(owner=user, nome=f"Diff {n}", shop_domain=f"diff-{n}-{name}.myshopify.com",
                                       webhook_secret=secret)
            ids = {sku: create_produto(loja=loja, sku=sku, nome=f"Produto {sku}", estoque_minimo=MINIMO,
                                       estoque_inicial=INITIAL).pk for sku in SKUS}
            Mapeamento.objects.create(loja=loja, shopify_sku="MAP-D", produto_id=ids["D"])
            made.append({"id": loja.pk, "shop_domain": loja.shop_domain, "secret": secret,
                         "skus": {str(pid): sku for sku, pid in ids.items()}})
    return made
