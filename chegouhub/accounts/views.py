"""Token and session login (CONTRACT sections 2 and 8)."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import CsrfViewMiddleware, get_token
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from chegouhub.common.jsonparse import JSONParser
from chegouhub.common.validation import no_control_characters

from . import services


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, validators=[no_control_characters])
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False, max_length=4096)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()


def _origin_allowed(request) -> bool:
    """Django's own CSRF Origin check: this host, or one of CSRF_TRUSTED_ORIGINS (= CORS_ALLOWED_ORIGINS).

    A request without `Origin` is not a browser page's form or fetch (browsers send it on every
    POST) and is let through; a browser page on another origin is refused.
    """
    if "HTTP_ORIGIN" not in request.META:
        return True
    return CsrfViewMiddleware(lambda r: None)._origin_verified(request)


class SameOriginOnly(BasePermission):
    message = "Origem não permitida para login."

    def has_permission(self, request, view) -> bool:
        return _origin_allowed(request._request)


class CredentialsView(APIView):
    """Checks username and password; subclasses say what a valid login gets."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    def post(self, request):
        creds = CredentialsSerializer(data=request.data)
        creds.is_valid(raise_exception=True)
        # The Django request, not DRF's wrapper: the failed-login limit (limits.py) marks it, and
        # its middleware turns the mark into the 429.
        user = authenticate(request._request, **creds.validated_data)
        if user is None:
            return Response({"erro": "Usuário ou senha inválidos."}, status=status.HTTP_400_BAD_REQUEST)
        return self.logged_in(request, user)

    def logged_in(self, request, user) -> Response:
        raise NotImplementedError


class TokenView(CredentialsView):
    def logged_in(self, request, user) -> Response:
        token = services.api_token_for(user_id=user.pk)
        return Response({"token": token})


class LoginView(CredentialsView):
    """JSON only, and only from this site's origin or CORS_ALLOWED_ORIGINS: a page elsewhere cannot
    log a visitor in with a form post (login CSRF). The origin is checked before the body is read."""

    permission_classes = [SameOriginOnly]
    parser_classes = [JSONParser]

    def logged_in(self, request, user) -> Response:
        login(request, user)
        get_token(request)  # rotate and hand out the CSRF cookie for the session's unsafe requests
        return Response({"session_key": request.session.session_key, "user": UserSerializer(user).data})


class LogoutView(APIView):
    def post(self, request):
        # Django's logout sends user_logged_out (signals.py): the sockets of this session (a
        # token-authenticated caller has none) are closed; API tokens stay valid.
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenRevokeView(APIView):
    """POST /api/auth/token/revoke/: the caller's API token stops working (204)."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]

    def post(self, request):
        services.revoke_api_tokens(user_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
