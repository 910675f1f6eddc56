"""Webhook management endpoints under /api/sync-realtime/ (CONTRACT section 6)."""

from django.urls import path

from . import subscription_views as views

urlpatterns = [
    path("configure-webhooks/", views.ConfigureWebhooksView.as_view(), name="configure-webhooks"),
    path("configure-webhook-single/", views.ConfigureWebhookSingleView.as_view(), name="configure-webhook-single"),
    path("webhooks-status/", views.WebhooksStatusView.as_view(), name="webhooks-status"),
    path("test-connectivity/", views.TestConnectivityView.as_view(), name="test-connectivity"),
    path("cleanup-webhooks/", views.CleanupWebhooksView.as_view(), name="cleanup-webhooks"),
]
