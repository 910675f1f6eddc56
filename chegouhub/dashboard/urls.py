"""The live dashboard at `/` (issue 5): login, the page, and its static files."""

from django.urls import path, re_path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.painel, name="painel"),
    path("entrar/", views.entrar, name="entrar"),
    path("sair/", views.sair, name="sair"),
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    re_path(r"^painel/static/(?P<path>[\w.-]+)$", views.static_file, name="static"),
]
