from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from chegouhub.accounts import views as accounts
from chegouhub.catalog import install_views, views as catalog
from chegouhub.inventory import views as inventory
from chegouhub.privacy import views as privacy
from chegouhub.sales import views as sales
from chegouhub.common import views as common
from chegouhub.shopify import views as shopify
from chegouhub.stocksync import views as stocksync
from chegouhub.stores import views as stores

router = DefaultRouter()
router.register("lojas", stores.LojaViewSet, basename="loja")
router.register("estoque/produtos", inventory.ProdutoViewSet, basename="produto")
router.register("estoque/movimentacoes", inventory.MovimentacaoViewSet, basename="movimentacao")
router.register("estoque/mapeamentos", inventory.MapeamentoViewSet, basename="mapeamento")
router.register("estoque/alertas", inventory.AlertaViewSet, basename="alerta")
router.register("estoque/webhook/entregas", shopify.DeliveryViewSet, basename="entrega")
router.register("cambio", sales.TaxaCambioViewSet, basename="cambio")
router.register("estoque/variantes", catalog.VarianteViewSet, basename="variante")
router.register("importacoes", catalog.ImportacaoViewSet, basename="importacao")
router.register("depositos", stocksync.DepositoViewSet, basename="deposito")
router.register("estoque/divergencias", stocksync.DivergenciaViewSet, basename="divergencia")
router.register("privacidade/pedidos", privacy.PedidoPrivacidadeViewSet, basename="pedido-privacidade")

urlpatterns = [
    path("api/auth/token/", accounts.TokenView.as_view()),
    path("api/auth/login/", accounts.LoginView.as_view()),
    path("api/auth/logout/", accounts.LogoutView.as_view()),
    path("api/auth/token/revoke/", accounts.TokenRevokeView.as_view()),
    path("api/estoque/webhook/shopify/", shopify.shopify_webhook, name="shopify-webhook"),
    path("api/estoque/webhook/stats/", shopify.WebhookStatsView.as_view()),
    path("api/vendas/resumo/", sales.SalesSummaryView.as_view()),
    path("api/estoque/sincronizacao/", stocksync.SincronizacaoView.as_view()),
    path("api/sync-realtime/", include("chegouhub.realtime.urls")),
    path("api/sync-realtime/", include("chegouhub.shopify.urls")),
    path("shopify/instalar/", install_views.instalar, name="shopify-instalar"),
    path("shopify/callback/", install_views.callback, name="shopify-callback"),
    path("healthz", common.healthz),
    path("readyz", common.readyz),
    path("metrics", common.metrics),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^static/drf_spectacular_sidecar/(?P<path>[\w./-]+)$", common.sidecar_static),
    path("api/lojas/conectar/", catalog.ConectarLojaView.as_view(), name="conectar-loja"),
    path("api/lojas/<int:loja_id>/locais/", catalog.LocaisView.as_view(), name="locais-loja"),
    path("api/lojas/<int:loja_id>/importar-catalogo/", catalog.ImportarCatalogoView.as_view(),
         name="importar-catalogo"),
    path("api/push/", include("chegouhub.push.urls")),
    path("api/", include(router.urls)),
    path("admin/", admin.site.urls),
    path("", include("chegouhub.dashboard.urls")),
]
