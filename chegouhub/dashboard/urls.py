"""The merchant's app at `/` (issues 5 and 32): login, one page per job, and the pages' static files."""

from django.urls import path, re_path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.painel, name="painel"),
    path("produtos/", views.produtos, name="produtos"),
    path("produtos/<int:produto_id>/", views.produto, name="produto"),
    path("lojas/", views.lojas, name="lojas"),
    path("depositos/", views.depositos, name="depositos"),
    path("vendas/", views.vendas, name="vendas"),
    path("notificacoes/", views.notificacoes, name="notificacoes"),
    path("privacidade/", views.privacidade, name="privacidade"),
    path("configuracoes/", views.configuracoes, name="configuracoes"),
    path("entrar/", views.entrar, name="entrar"),
    path("sair/", views.sair, name="sair"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    re_path(r"^painel/static/(?P<path>[\w.-]+)$", views.static_file, name="static"),
]
