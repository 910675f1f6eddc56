"""API throttling per endpoint: per user when authenticated, per client address when anonymous.

Each endpoint (URL name, e.g. `produto-list`, `produto-detail`) has its own bucket, so a client
polling one endpoint hard does not lock itself out of the others. Rates come from
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]: `user` and `anon` by default (env API_THROTTLE_USER,
API_THROTTLE_ANON); a view with `throttle_scope = "x"` uses the `x_user` / `x_anon` rates when
they are set. The counters live in the default cache (Redis in production, so all hosts share
them). If the cache is down the request is let through: throttling must never turn into a 500.
DRF answers 429 with `Retry-After`.

The Shopify webhook receiver is a plain Django view and is not throttled here (it has its own
per-address limit on failed requests; valid signed webhooks are never refused).
"""

from __future__ import annotations

import logging

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

log = logging.getLogger(__name__)


class _PerEndpoint:
    scope: str

    def allow_request(self, request, view):
        scoped = getattr(view, "throttle_scope", None)
        if scoped:
            rate = self.THROTTLE_RATES.get(f"{scoped}_{self.scope}")
            if rate:
                self.rate = rate
                self.num_requests, self.duration = self.parse_rate(rate)
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # cache outage: fail open
            log.warning("api throttle: cache unavailable; request allowed", extra={"error_type": type(exc).__name__})
            return True

    def get_cache_key(self, request, view):
        key = super().get_cache_key(request, view)
        if key is None:
            return None
        match = getattr(request, "resolver_match", None)
        endpoint = (match.view_name if match and match.view_name else type(view).__name__)[:100]
        return f"{key}:{endpoint}"


class EndpointAnonRateThrottle(_PerEndpoint, AnonRateThrottle):
    """Anonymous requests, per client address and endpoint (rate `anon`)."""


class EndpointUserRateThrottle(_PerEndpoint, UserRateThrottle):
    """Authenticated requests, per user and endpoint (rate `user`)."""
