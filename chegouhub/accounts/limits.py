"""Failed-login limits (CONTRACT section 8), by django-axes with its database handler.

Every login path (API token, API login, dashboard, admin) goes through `authenticate()`, whose
first backend is axes'. Failures are counted in the database (so every server process shares
them) per (username, address) pair and per address: AXES_LOCKOUT_PARAMETERS lists the two, in
that order, and LOGIN_FAILURE_LIMIT / LOGIN_FAILURE_LIMIT_PER_ADDRESS are their limits. Past a
limit within LOGIN_FAILURE_WINDOW_SECONDS, the next attempt from that pair (or that address) is
refused (429 with Retry-After) before the password is even checked, right or wrong.

Never per username alone: anyone could then lock a merchant out by failing with their name. The
right password from an address that has not failed always logs in.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.db.models import Sum
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

LOCKED_MESSAGE = (
    "Muitas tentativas de login sem sucesso. Por segurança, o acesso foi bloqueado por {minutos} minutos; "
    "tente novamente mais tarde."
)


class LoginFailureHandler(AxesDatabaseHandler):
    """Axes' database handler with one limit per entry of AXES_LOCKOUT_PARAMETERS.

    Axes compares the largest count of all its entries with one AXES_FAILURE_LIMIT; here each
    entry has its own (`failure_limits()`, same order). A failure itself always answers as a
    failure (AXES_LOCK_OUT_AT_FAILURE is off): the contract lets the 10th failure of a pair say
    "wrong password" and refuses what comes past it, which is this `is_locked`, checked by axes'
    backend before every attempt.
    """

    def is_locked(self, request, credentials=None) -> bool:
        attempts = self.get_user_attempts(request, credentials)  # one queryset per lockout parameter
        return any(_failures(queryset) >= limit for queryset, limit in zip(attempts, failure_limits(), strict=True))


def failure_limits() -> tuple[int, int]:
    """The limits of AXES_LOCKOUT_PARAMETERS' entries: the (username, address) pair, the address."""
    return settings.LOGIN_FAILURE_LIMIT, settings.LOGIN_FAILURE_LIMIT_PER_ADDRESS


def _failures(attempts) -> int:
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


def client_address(request) -> str:
    """The client's address as the API throttles see it (REMOTE_ADDR, or X-Forwarded-For past
    API_NUM_PROXIES trusted proxies): one notion of "address" for every limit."""
    return BaseThrottle().get_ident(request)


def retry_after_seconds() -> int:
    return int(settings.LOGIN_FAILURE_WINDOW_SECONDS)


def locked_out_response(request, *args, **kwargs) -> HttpResponse:
    """429 + Retry-After: JSON on the API, the login page with the message on the dashboard."""
    seconds = retry_after_seconds()
    message = LOCKED_MESSAGE.format(minutos=max(1, round(seconds / 60)))
    path = request.path_info or ""
    if path.startswith("/api/"):
        response = JsonResponse({"erro": message}, status=429)
    elif path.startswith("/admin/"):
        response = HttpResponse(f"<!doctype html><title>Acesso bloqueado</title><p>{message}</p>",
                                status=429, content_type="text/html; charset=utf-8")
    else:
        # The dashboard's login page (by template name: accounts does not import the dashboard).
        response = render(request, settings.LOGIN_LOCKED_TEMPLATE,
                          {"form": AuthenticationForm(request), "bloqueado": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response
