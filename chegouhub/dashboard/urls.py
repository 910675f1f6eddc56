"""The live dashboard at `/` (issue 5): login, the page, and its static files."""

from django.urls import path, re_path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.painel, name="painel"),
    path("entrar/", views.entrar, name="entrar"),
    path("sair/", views.sair, name="sair"),
    re_path(r"^painel/static/(?P<path>[\w.-]+)$", views.static_file, name="static"),
]
