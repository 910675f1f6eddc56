"""Webhook management endpoints under /api/sync-realtime/ (CONTRACT section 6)."""

urlpatterns: list = []
