"""Token and session login (CONTRACT section 2)."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_staff = serializers.BooleanField()


class CredentialsView(APIView):
    """Checks username and password; subclasses say what a valid login gets."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    def post(self, request):
        creds = CredentialsSerializer(data=request.data)
        creds.is_valid(raise_exception=True)
        user = authenticate(request, **creds.validated_data)
        if user is None:
            return Response({"erro": "Usuário ou senha inválidos."}, status=status.HTTP_400_BAD_REQUEST)
        return self.logged_in(request, user)

    def logged_in(self, request, user) -> Response:
        raise NotImplementedError


class TokenView(CredentialsView):
    def logged_in(self, request, user) -> Response:
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


class LoginView(CredentialsView):
    def logged_in(self, request, user) -> Response:
        login(request, user)
        get_token(request)  # rotate and hand out the CSRF cookie for the session's unsafe requests
        return Response({"session_key": request.session.session_key, "user": UserSerializer(user).data})


class LogoutView(APIView):
    def post(self, request):
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)
