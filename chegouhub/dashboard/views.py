"""The dashboard page: server-rendered first frame, then a small JS module keeps it live."""

from __future__ import annotations

import functools
import hashlib
from zoneinfo import ZoneInfo
from pathlib import Path

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from urllib.parse import urlencode
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from chegouhub.privacy.selectors import dashboard_requests
from chegouhub.inventory.models import Produto
from chegouhub.stores.models import Deposito

from .models import FUSOS_BRASIL, set_user_time_zone, user_time_zone, valid_time_zone
from .selectors import SITUACOES, dashboard_snapshot, produto_detail, produtos_page

STATIC_DIR = Path(__file__).parent / "static" / "dashboard"

WEBHOOK_STATUS_LABELS = {
    "nao_configurado": "Não configurado",
    "configurado": "Configurado",
    "incompleto": "Incompleto",
    "removido": "Removido",
    "desinstalado": "App desinstalado",
    "erro": "Erro",
}

# No inline script or style anywhere: the page's data travels in <script type="application/json">.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)


def _secure(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CSP
    response["Referrer-Policy"] = "same-origin"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _deposito_context(user, loja) -> dict:
    """The depósito section (_deposito.html): the loja's depósito, its other lojas, the user's depósitos."""
    if loja is None:
        return {}
    depositos = list(Deposito.objects.filter(owner_id=user.pk).annotate(num_produtos=Count("produtos"))
                     .prefetch_related("lojas").order_by("nome", "id"))
    for d in depositos:
        d.lojas_nomes = ", ".join(sorted(l.nome for l in d.lojas.all())) or "sem lojas"
    deposito = next(d for d in depositos if d.pk == loja.deposito_id)
    outras = [l for l in deposito.lojas.all() if l.pk != loja.pk]
    # What a move takes along (stocksync.depositos.move_loja): the whole stock when the loja is alone
    # in its depósito, else the produtos it created.
    a_mover = deposito.num_produtos if not outras else Produto.objects.filter(deposito=deposito, loja=loja).count()
    return {"deposito": deposito, "depositos": depositos, "deposito_lojas": outras, "produtos_a_mover": a_mover}


TOKEN_LABELS = {
    "expiravel": ("Token expirável", "Renovado automaticamente a cada hora."),
    "permanente_instalacao": ("Token permanente", "Para de funcionar em {corte}: reconecte a loja para trocá-lo "
                                                  "por um token expirável."),
    "app_personalizado": ("Token de app personalizado", "Colado de um app da própria loja: não expira."),
}


def token_display(loja) -> dict:
    """How the dashboard tells the loja's token kind and whether it must be reconnected (CONTRACT 9)."""
    from chegouhub.shopify.tokens import NON_EXPIRING_CUTOFF, reconnect_url

    tipo = loja.tipo_token
    rotulo, dica = TOKEN_LABELS[tipo]
    reconectar = loja.reconectar_desde is not None
    if reconectar:
        dica = "A Shopify recusou o acesso desta loja. Reconecte-a: o estoque que mudou será enviado."
    return {"tipo": tipo, "rotulo": rotulo, "dica": dica.format(corte=NON_EXPIRING_CUTOFF.strftime("%d/%m/%Y")),
            "reconectar": reconectar, "reconectar_url": reconnect_url(loja.shop_domain),
            # the install flow also replaces a permanent install token; a pasted token is the merchant's own
            "mostrar_reconectar": reconectar or tipo == "permanente_instalacao"}


def _login_page(request, form: AuthenticationForm, status: int = 200) -> HttpResponse:
    return _secure(render(request, "dashboard/login.html", {"form": form}, status=status))


# The app's pages, in the navigation's order: (url name, label).
PAGINAS = [
    ("painel", "Painel"), ("produtos", "Produtos"), ("lojas", "Lojas"), ("depositos", "Depósitos"),
    ("vendas", "Vendas"), ("notificacoes", "Notificações"), ("privacidade", "Privacidade"),
    ("configuracoes", "Configurações"),
]


def _loja_id(request) -> int | None:
    try:
        return int(request.GET["loja"]) if request.GET.get("loja") else None
    except ValueError:
        return None


def _page(request, template: str, pagina: str, *, alertas=False, vendas=False, extra=None) -> HttpResponse:
    """Every page: the shared layout (navigation, loja picker, live status) over one job's sections."""
    snap = dashboard_snapshot(user=request.user, loja_id=_loja_id(request), alertas=alertas, vendas=vendas)
    for loja in snap.lojas:
        loja.status_label = WEBHOOK_STATUS_LABELS.get(loja.webhook_status, loja.webhook_status)
        loja.token = token_display(loja)
    loja_qs = f"?loja={snap.loja.pk}" if snap.loja else ""
    extra = extra(snap) if callable(extra) else (extra or {})
    fuso = user_time_zone(request.user)
    config = {
        "pagina": pagina,
        "fuso": fuso,
        "loja_id": snap.loja.pk if snap.loja else None,
        "deposito_id": snap.loja.deposito_id if snap.loja else None,
        "cursor": snap.cursor,
        "vendas": snap.vendas,
        "base_domain": settings.WEBHOOK_BASE_DOMAIN,
        "status_labels": WEBHOOK_STATUS_LABELS,
        "lojas": {l.pk: l.nome for l in snap.lojas},
        # Only an unfiltered list that fits on one page takes in produtos created after it loaded.
        "adicionar_novos": extra.pop("adicionar_novos", False),
    }
    context = {
        "snap": snap,
        "config": config,
        "pagina": pagina,
        "paginas": [{"nome": n, "rotulo": r, "url": reverse(f"dashboard:{n}") + loja_qs, "atual": n == pagina}
                    for n, r in PAGINAS],
        "loja_qs": loja_qs,
        "status_labels": WEBHOOK_STATUS_LABELS,
        "base_domain": settings.WEBHOOK_BASE_DOMAIN,
        "fuso": fuso,
        **extra,
    }
    with timezone.override(ZoneInfo(fuso)):  # the server-rendered times too
        return _secure(render(request, template, context))


def _authenticated(view):
    """A page of the app: the login form for a visitor (at the page's own address), else the page."""
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return _login_page(request, AuthenticationForm(request))
        return view(request, *args, **kwargs)
    return require_http_methods(["GET", "HEAD"])(wrapper)


def _checklist(snap, user) -> list[dict]:
    """The first-run checklist: connect, import, share stock, turn on push."""
    from chegouhub.catalog.models import Importacao, ImportStatus
    from chegouhub.push.models import Inscricao

    lojas = snap.lojas
    importou = bool(lojas) and Importacao.objects.filter(loja__in=lojas, status=ImportStatus.DONE).exists()
    compartilha = len({l.deposito_id for l in lojas}) < len(lojas)
    push = Inscricao.objects.filter(user_id=user.pk).exists()
    qs = f"?loja={snap.loja.pk}" if snap.loja else ""
    return [
        {"feito": bool(lojas), "texto": "Conectar sua loja Shopify", "url": reverse("dashboard:lojas") + qs},
        {"feito": importou, "texto": "Importar o catálogo da loja", "url": reverse("dashboard:lojas") + qs + "#bloco-catalogo"},
        {"feito": compartilha, "texto": "Compartilhar o estoque entre lojas (opcional)",
         "url": reverse("dashboard:depositos") + qs},
        {"feito": push, "texto": "Ativar as notificações no celular", "url": reverse("dashboard:notificacoes") + qs},
    ]


@_authenticated
def painel(request):
    def extra(snap):
        checklist = _checklist(snap, request.user)
        # A notification's click opens the Painel at ?produto=: that produto on top (push.js highlights it).
        destaque = request.GET.get("produto", "")
        destaque = produto_detail(user=request.user, produto_id=int(destaque)) if destaque.isdigit() else None
        return {"checklist": checklist, "checklist_pendente": not all(i["feito"] for i in checklist[:2]),
                "destaque": destaque}
    return _page(request, "dashboard/painel.html", "painel", alertas=True, vendas=True, extra=extra)


@_authenticated
def produtos(request):
    busca = request.GET.get("q", "").strip()[:255]
    situacao = request.GET.get("situacao", "")
    situacao = situacao if situacao in SITUACOES else ""

    def extra(snap):
        if snap.loja is None:
            return {}
        page = produtos_page(loja=snap.loja, busca=busca, situacao=situacao, pagina=request.GET.get("pagina") or 1)
        filtros = {"loja": snap.loja.pk, "q": busca, "situacao": situacao}
        base = "?" + urlencode({k: v for k, v in filtros.items() if v})
        return {"page": page, "busca": busca, "situacao": situacao, "filtros_qs": base,
                "adicionar_novos": not busca and not situacao and page.paginator.num_pages <= 1}
    return _page(request, "dashboard/produtos.html", "produtos", extra=extra)


@_authenticated
def produto(request, produto_id: int):
    item = produto_detail(user=request.user, produto_id=produto_id)
    if item is None:
        raise Http404("produto")
    return _page(request, "dashboard/produto.html", "produtos", extra={"produto": item})


@_authenticated
def lojas(request):
    return _page(request, "dashboard/lojas.html", "lojas")


@_authenticated
def depositos(request):
    return _page(request, "dashboard/depositos.html", "depositos",
                 extra=lambda snap: _deposito_context(request.user, snap.loja))


@_authenticated
def vendas(request):
    return _page(request, "dashboard/vendas.html", "vendas", vendas=True)


@_authenticated
def notificacoes(request):
    return _page(request, "dashboard/notificacoes.html", "notificacoes")


@_authenticated
def privacidade(request):
    return _page(request, "dashboard/privacidade.html", "privacidade",
                 extra={"privacidade": dashboard_requests(request.user)})


@require_http_methods(["GET", "HEAD", "POST"])
def configuracoes(request):
    if not request.user.is_authenticated:
        return _login_page(request, AuthenticationForm(request))
    erro = ""
    if request.method == "POST":
        fuso = request.POST.get("fuso", "")
        if valid_time_zone(fuso):
            set_user_time_zone(request.user, fuso)
            return redirect(reverse("dashboard:configuracoes") + "?salvo=fuso"
                            + (f"&loja={_loja_id(request)}" if _loja_id(request) else ""))
        erro = "Fuso horário desconhecido: escolha um da lista."
    return _page(request, "dashboard/configuracoes.html", "configuracoes",
                 extra={"fusos": FUSOS_BRASIL, "erro_fuso": erro, "salvo": request.GET.get("salvo") == "fuso"})


@require_http_methods(["GET", "POST"])
def entrar(request):
    if request.method == "GET":
        return redirect("dashboard:painel")
    form = AuthenticationForm(request, data=request.POST)
    if not form.is_valid():
        return _login_page(request, form, status=400)
    login(request, form.get_user())
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    return redirect(target)


@require_POST
def sair(request):
    logout(request)
    return redirect("dashboard:painel")


CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".png": "image/png", ".svg": "image/svg+xml"}


@functools.lru_cache(maxsize=32)
def _load_static(path: str, mtime_ns: int, size: int) -> tuple[bytes, str]:
    body = (STATIC_DIR / path).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@require_http_methods(["GET", "HEAD"])
def static_file(request, path: str):
    """The page's own CSS and JS: no build step, and no collectstatic needed to run the demo.

    Revalidated on every load (ETag), so a changed module is never served stale; small files
    are kept in memory.
    """
    file = STATIC_DIR / path
    suffix = file.suffix.lower()
    if suffix not in CONTENT_TYPES or not file.is_file():
        raise Http404(path)
    stat = file.stat()
    body, etag = _load_static(path, stat.st_mtime_ns, stat.st_size)
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type=CONTENT_TYPES[suffix])
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _root_file(request, name: str, content_type: str) -> HttpResponse:
    file = STATIC_DIR / name
    stat = file.stat()
    body, etag = _load_static(name, stat.st_mtime_ns, stat.st_size)
    response = HttpResponseNotModified() if etag in request.headers.get("If-None-Match", "") else \
        HttpResponse(body, content_type=content_type)
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"  # browsers re-check the worker on every load
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_http_methods(["GET", "HEAD"])
def service_worker(request):
    """The service worker at the root, so its scope is the whole dashboard (no Service-Worker-Allowed)."""
    return _root_file(request, "sw.js", "text/javascript; charset=utf-8")


@require_http_methods(["GET", "HEAD"])
def manifest(request):
    """The web app manifest: the dashboard installs as an app (icons, standalone window)."""
    return _root_file(request, "manifest.webmanifest", "application/manifest+json")
