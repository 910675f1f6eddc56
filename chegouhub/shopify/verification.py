"""What makes a Shopify webhook request acceptable: one definition, called by every server path.

Pure functions over the request's raw header pairs, its body and the loja it names (looked up by
the caller: through the ORM on the Django path, through the pool on the lean route). Each raises
`WebhookRejected` with the contract's status (CONTRACT section 4): 413 over the size limit, 400 for
a missing or repeated `X-Shopify-*` header, 403 for a domain that is not `.myshopify.com`, 404 for
an unknown or inactive loja, 401 for a wrong HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from chegouhub.common.body_limit import too_large
from chegouhub.stores.models import shop_domain_validator

REQUIRED_HEADERS = {
    "x-shopify-topic": "X-Shopify-Topic",
    "x-shopify-hmac-sha256": "X-Shopify-Hmac-Sha256",
    "x-shopify-shop-domain": "X-Shopify-Shop-Domain",
    "x-shopify-webhook-id": "X-Shopify-Webhook-Id",
}
SHOP_DOMAIN = shop_domain_validator.regex  # the loja API's own rule: one definition of a shop domain


class WebhookRejected(Exception):
    def __init__(self, status: int, erro: str, *, loja_id: int | None = None, topic: str = ""):
        super().__init__(erro)
        self.status = status
        self.erro = erro
        self.loja_id = loja_id
        self.topic = topic


@dataclass(frozen=True)
class WebhookHeaders:
    topic: str
    shop_domain: str
    hmac: str
    webhook_id: str
    event_id: str | None
    api_version: str
    triggered_at: str


@dataclass(frozen=True)
class VerifiedWebhook:
    loja_id: int
    owner_id: int
    shop_domain: str
    topic: str
    webhook_id: str
    event_id: str | None
    api_version: str
    triggered_at: str
    body: bytes


def compute_hmac(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise WebhookRejected(413, too_large(limit)["erro"])


def read_headers(pairs: Iterable[tuple[str, str]] | Mapping[str, str]) -> WebhookHeaders:
    """The Shopify headers of a request, from its raw (name, value) pairs (names case-insensitive).

    A repeated `X-Shopify-*` header is refused: which value counts would be ambiguous, and every
    server path must answer the same (Django would join the values with commas, a dict keep the last).
    """
    h: dict[str, str] = {}
    repeated = set()
    for name, value in pairs.items() if isinstance(pairs, Mapping) else pairs:
        key = name.lower()
        if key.startswith("x-shopify-"):
            if key in h:
                repeated.add(key)
            h[key] = value
    if repeated:
        raise WebhookRejected(400, f"Cabeçalho repetido: {', '.join(sorted(repeated))}.")
    missing = [name for key, name in REQUIRED_HEADERS.items() if not h.get(key, "").strip()]
    if missing:
        raise WebhookRejected(400, f"Cabeçalho obrigatório ausente: {', '.join(missing)}.")
    topic = h["x-shopify-topic"].strip()
    shop = h["x-shopify-shop-domain"].strip().lower()
    if not SHOP_DOMAIN.match(shop):
        raise WebhookRejected(403, "Domínio da loja não é um domínio .myshopify.com.", topic=topic)
    return WebhookHeaders(
        topic=topic,
        shop_domain=shop,
        hmac=h["x-shopify-hmac-sha256"].strip(),
        webhook_id=h["x-shopify-webhook-id"].strip()[:255],
        event_id=(h.get("x-shopify-event-id") or "").strip()[:255] or None,
        api_version=(h.get("x-shopify-api-version") or "").strip()[:20],
        triggered_at=(h.get("x-shopify-triggered-at") or "").strip()[:64],
    )


def verify(headers: WebhookHeaders, body: bytes, loja: dict | None) -> VerifiedWebhook:
    """The loja found for the headers' shop ({"id","owner_id","secret"} or None) and the HMAC."""
    topic = headers.topic
    if loja is None:
        raise WebhookRejected(404, "Loja não cadastrada ou inativa.", topic=topic)
    if not loja["secret"]:
        raise WebhookRejected(401, "Loja sem segredo de webhook configurado.", loja_id=loja["id"], topic=topic)
    expected = compute_hmac(body, loja["secret"])
    if not hmac.compare_digest(expected.encode(), headers.hmac.encode()):
        raise WebhookRejected(401, "Assinatura HMAC inválida.", loja_id=loja["id"], topic=topic)
    return VerifiedWebhook(
        loja_id=loja["id"], owner_id=loja["owner_id"], shop_domain=headers.shop_domain, topic=topic,
        webhook_id=headers.webhook_id, event_id=headers.event_id, api_version=headers.api_version,
        triggered_at=headers.triggered_at, body=body,
    )
