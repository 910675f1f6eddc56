from __future__ import annotations

from rest_framework import viewsets

from .ownership import create_loja, update_loja
from .selectors import lojas_for_user
from .serializers import LojaSerializer


class LojaViewSet(viewsets.ModelViewSet):
    serializer_class = LojaSerializer

    def get_queryset(self):
        return lojas_for_user(self.request.user)

    def perform_create(self, serializer):
        serializer.instance = create_loja(owner=self.request.user, data=serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = update_loja(loja=serializer.instance, data=serializer.validated_data)
