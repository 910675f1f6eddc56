"""The demo loja: a user, a loja and about 20 produtos with thresholds. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from chegouhub.inventory.models import Produto
from chegouhub.inventory.services import create_produto
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


@dataclass
class DemoSetup:
    loja: Loja
    created: bool


def seed_demo() -> DemoSetup:
    User = get_user_model()
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=DEMO_USERNAME, defaults={"is_staff": True})
        user.set_password(DEMO_PASSWORD)
        user.save()
        loja, created = Loja.objects.get_or_create(
            shop_domain=DEMO_SHOP,
            defaults={"owner": user, "nome": "Loja Demo ChegouHub", "webhook_secret": DEMO_SECRET,
                      "access_token": DEMO_TOKEN},
        )
        existing = set(Produto.objects.filter(loja=loja).values_list("sku", flat=True))
        for sku, nome, estoque, minimo in CATALOGUE:
            if sku not in existing:
                create_produto(loja=loja, sku=sku, nome=nome, estoque_minimo=minimo, estoque_inicial=estoque)
    return DemoSetup(loja=loja, created=created)
