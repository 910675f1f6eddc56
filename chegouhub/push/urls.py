from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("inscricoes", views.InscricaoViewSet, basename="push-inscricao")

urlpatterns = [
    path("chave-publica/", views.ChavePublicaView.as_view(), name="push-chave-publica"),
    *router.urls,
]
