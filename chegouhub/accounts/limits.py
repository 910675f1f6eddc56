"""Failed-login limits (CONTRACT section 8), by django-axes with its database handler.

Every login path (API token, API login, dashboard, admin) goes through `authenticate()`, whose
first backend is axes'. Failures are counted per username and per client address in the
database, so every server process shares them. Past LOGIN_FAILURE_LIMIT failures within
LOGIN_FAILURE_WINDOW_SECONDS, the next attempt is refused (429 with Retry-After) before the
password is even checked, right or wrong.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle

LOCKED_MESSAGE = (
    "Muitas tentativas de login sem sucesso. Por segurança, o acesso foi bloqueado por {minutos} minutos; "
    "tente novamente mais tarde."
)


class LoginFailureHandler(AxesDatabaseHandler):
    """Axes' database handler, refusing from the attempt *after* the limit's last failure.

    Axes answers the failure that reaches its limit with the lockout itself; the contract lets
    10 failures answer as failures and refuses what comes past them. So the lock check here is
    `failures >= LOGIN_FAILURE_LIMIT`, and AXES_FAILURE_LIMIT (the check made right after a
    failure) is one more, so the 10th failure still answers "wrong password".
    """

    def is_locked(self, request, credentials=None) -> bool:
        return self.get_failures(request, credentials) >= settings.LOGIN_FAILURE_LIMIT


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
