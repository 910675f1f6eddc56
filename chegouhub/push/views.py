"""Web Push API (CONTRACT section 11): thin views over services.subscribe / unsubscribe."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services, vapid
from .models import Inscricao
from .serializers import InscricaoSerializer


class ChavePublicaView(APIView):
    """The VAPID public key browsers subscribe with. Public by nature: no login needed."""

    permission_classes = [AllowAny]

    @extend_schema(responses=inline_serializer("ChavePublica", {"chave": serializers.CharField()}))
    def get(self, request):
        try:
            chave = vapid.public_key()
        except ImproperlyConfigured:
            # No key, no resource: 5xx would say the server failed, and it did not.
            return Response({"erro": "Notificações push não estão configuradas neste servidor (VAPID)."},
                            status=status.HTTP_404_NOT_FOUND)
        return Response({"chave": chave})


class InscricaoViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                       viewsets.GenericViewSet):
    serializer_class = InscricaoSerializer
    lookup_value_regex = r"[0-9]{1,18}"  # a bigint: anything else is no inscrição (404)

    def get_queryset(self):
        return Inscricao.objects.filter(user=self.request.user).prefetch_related("lojas").order_by("id")

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])  # another user's: 404

    def create(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        inscricao, created = services.subscribe(
            user=request.user, endpoint=data["endpoint"], p256dh=data["keys"]["p256dh"], auth=data["keys"]["auth"],
            lojas=data.get("lojas", []), tipos=data.get("tipos") or services.DEFAULT_TIPOS)
        return Response(self.get_serializer(inscricao).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def perform_destroy(self, instance):
        services.unsubscribe(inscricao=instance)
