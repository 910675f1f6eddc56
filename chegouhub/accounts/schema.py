"""OpenAPI descriptions of the login views (registered by AccountsConfig.ready())."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers

from chegouhub.common.schema import ERRO as _ERRO

from .views import CredentialsSerializer, UserSerializer


class TokenViewSchema(OpenApiViewExtension):
    target_class = "chegouhub.accounts.views.TokenView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(
                request=CredentialsSerializer,
                responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()}), 400: _ERRO},
                summary="Obtain an API token (Authorization: Token <token>)",
            )
            def post(self, request):
                return super().post(request)

        return Fixed


class LoginViewSchema(OpenApiViewExtension):
    target_class = "chegouhub.accounts.views.LoginView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(
                request=CredentialsSerializer,
                responses={
                    200: inline_serializer(
                        "LoginResponse", {"session_key": serializers.CharField(), "user": UserSerializer()}
                    ),
                    400: _ERRO,
                },
                summary="Session login (sets the session cookie)",
            )
            def post(self, request):
                return super().post(request)

        return Fixed


class LogoutViewSchema(OpenApiViewExtension):
    target_class = "chegouhub.accounts.views.LogoutView"

    def view_replacement(self):
        class Fixed(self.target_class):
            @extend_schema(request=None, responses={204: None}, summary="Session logout")
            def post(self, request):
                return super().post(request)

        return Fixed
