"""`/shopify/instalar/` and `/shopify/callback/`: thin views over chegouhub.catalog.install."""

from __future__ import annotations

from urllib.parse import quote

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from chegouhub.stores.oauth import InstallRefused

from . import install

CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"


def _page(request, *, status: int, title: str, message: str) -> HttpResponse:
    response = render(request, "catalog/instalacao.html", {"titulo": title, "mensagem": message}, status=status)
    response["Content-Security-Policy"] = CSP
    response["Referrer-Policy"] = "no-referrer"  # the callback's code and hmac stay out of other sites' logs
    response["Cache-Control"] = "no-store"
    return response


def _refused(request, exc: InstallRefused) -> HttpResponse:
    return _page(request, status=exc.status, title="Não foi possível conectar a loja", message=exc.message)


@require_GET
def instalar(request):
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/?next=" + quote(request.get_full_path(), safe=""))
    try:
        url = install.start_install(user=request.user, session=request.session, shop=request.GET.get("shop"),
                                    redirect_uri=request.build_absolute_uri(reverse("shopify-callback")))
    except InstallRefused as exc:
        return _refused(request, exc)
    return HttpResponseRedirect(url)


@require_GET
def callback(request):
    if not request.user.is_authenticated:
        return _refused(request, InstallRefused(
            "Sua sessão no ChegouHub terminou durante a instalação. Entre e conecte a loja de novo.", status=403))
    try:
        loja, _importacao = install.complete_install(user=request.user, session=request.session, params=request.GET)
    except InstallRefused as exc:
        return _refused(request, exc)
    return HttpResponseRedirect(f"/?loja={loja.pk}")
