"""The demo loja: a user, a loja and about 20 produtos with thresholds. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from chegouhub.inventory.models import Produto
from chegouhub.stores.models import Loja

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "chegouhub-demo"
DEMO_SHOP = "chegouhub-demo.myshopify.com"
DEMO_SECRET = "demo-webhook-secret-not-for-production"
DEMO_TOKEN = "shpat_demo_token_not_for_production"

CATALOGUE = [
    ("CAM-BRA-P", "Camiseta branca P", 40, 8), ("CAM-BRA-M", "Camiseta branca M", 35, 8),
    ("CAM-BRA-G", "Camiseta branca G", 25, 6), ("CAM-PRE-P", "Camiseta preta P", 30, 8),
    ("CAM-PRE-M", "Camiseta preta M", 12, 8), ("CAM-PRE-G", "Camiseta preta G", 6, 5),
    ("BON-AZUL", "Boné azul", 18, 4), ("BON-VERDE", "Boné verde", 9, 4),
    ("TEN-CORR-40", "Tênis de corrida 40", 10, 3), ("TEN-CORR-42", "Tênis de corrida 42", 7, 3),
    ("MOCH-URB", "Mochila urbana", 15, 4), ("GAR-INOX", "Garrafa inox 750 ml", 50, 10),
    ("CAN-CER", "Caneca de cerâmica", 22, 6), ("MEIA-KIT3", "Kit 3 pares de meias", 60, 12),
    ("JAQ-JEANS", "Jaqueta jeans", 5, 3), ("CIN-COURO", "Cinto de couro", 14, 4),
    ("OCU-SOL", "Óculos de sol", 8, 3), ("REL-DIG", "Relógio digital", 4, 2),
    ("CAP-CEL", "Capa de celular", 45, 10), ("FONE-BT", "Fone bluetooth", 3, 2),
]


# The demo shop's products in the fake Shopify: the catalogue above as one variant each (its stock
# as Shopify's `available`), plus a gift card without SKU. The demo loja is connected through the
# install flow and imports them, as a merchant's store would.
DEMO_CLIENT_ID = "chegouhub-demo-app"


def fake_shop_products() -> list[dict]:
    products = [{"title": nome, "variants": [{"sku": sku, "available": estoque}]}
                for sku, nome, estoque, _minimo in CATALOGUE]
    products.append({"title": "Vale-presente", "variants": [{"sku": None, "title": "R$ 50", "available": 0}]})
    return products


@dataclass
class DemoSetup:
    user: object
    loja: Loja | None  # None until the install flow has connected it


def seed_demo() -> DemoSetup:
    """The demo user (the loja comes from the install flow: see the `demo` command)."""
    User = get_user_model()
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=DEMO_USERNAME, defaults={"is_staff": True})
        user.set_password(DEMO_PASSWORD)
        user.save()
    return DemoSetup(user=user, loja=Loja.objects.filter(shop_domain=DEMO_SHOP).first())


# A second demo loja selling in dollars (a custom app's secret, its produtos typed in), so the
# dashboard's sales show two currencies and their total converted at the demo user's own rate.
DEMO_SHOP_USD = "chegouhub-demo-usa.myshopify.com"
DEMO_SECRET_USD = "demo-usa-webhook-secret-not-for-production"
CATALOGUE_USD = [("US-TEE-M", "T-shirt M", 80, 10), ("US-CAP", "Cap", 60, 8), ("US-MUG", "Mug", 40, 6)]
DEMO_USD_RATE = "5.40"  # BRL for 1 USD, entered by the demo user (nothing is fetched from the internet)


def seed_demo_usd_loja(user) -> Loja:
    """The dollar loja, its produtos and the demo user's USD rate. Idempotent."""
    from datetime import date

    from chegouhub.inventory.services import create_produto
    from chegouhub.sales.models import TaxaCambio

    with transaction.atomic():
        loja, created = Loja.objects.get_or_create(
            shop_domain=DEMO_SHOP_USD,
            defaults={"owner": user, "nome": "Loja Demo EUA (USD)", "webhook_secret": DEMO_SECRET_USD},
        )
        if created:
            for sku, nome, estoque, minimo in CATALOGUE_USD:
                create_produto(loja=loja, sku=sku, nome=nome, estoque_minimo=minimo, estoque_inicial=estoque)
        TaxaCambio.objects.get_or_create(owner=user, moeda="USD", moeda_relatorio="BRL",
                                         vigente_desde=date(2020, 1, 1), defaults={"taxa": DEMO_USD_RATE})
    return loja


def apply_demo_minimums(loja: Loja) -> None:
    """The minimums a merchant would set after the import (the import creates produtos with 0), so
    the demo's alerts open and resolve. Only where none was set."""
    for sku, _nome, _estoque, minimo in CATALOGUE:
        Produto.objects.filter(deposito_id=loja.deposito_id, sku=sku, estoque_minimo=0).update(estoque_minimo=minimo)



# A second BRL store on the demo loja's depósito (CONTRACT 10): the same goods, one stock, both
# stores told what is left. Connected as a custom app (token and secret), its catalog imported;
# a sale in either store lowers the other's quantity on Shopify (push_stock).
DEMO_SHOP_OUTLET = "chegouhub-demo-outlet.myshopify.com"
DEMO_SECRET_OUTLET = "demo-outlet-webhook-secret-not-for-production"
DEMO_TOKEN_OUTLET = "shpat_demo_outlet_token_not_for_production"


def seed_demo_outlet_loja(main: Loja) -> Loja:
    """The outlet loja, in the main demo loja's depósito, both pushing stock to Shopify. Idempotent."""
    with transaction.atomic():
        loja, _ = Loja.objects.get_or_create(
            shop_domain=DEMO_SHOP_OUTLET,
            defaults={"owner": main.owner, "nome": "Loja Demo Outlet", "webhook_secret": DEMO_SECRET_OUTLET,
                      "access_token": DEMO_TOKEN_OUTLET, "deposito": main.deposito},
        )
        for store in (main, loja):
            if not store.sincronizar_estoque:
                store.sincronizar_estoque = True
                store.save()
    return loja
