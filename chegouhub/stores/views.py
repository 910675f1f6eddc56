from __future__ import annotations

from rest_framework import viewsets

from .selectors import lojas_for_user
from .serializers import LojaSerializer


class LojaViewSet(viewsets.ModelViewSet):
    serializer_class = LojaSerializer

    def get_queryset(self):
        return lojas_for_user(self.request.user)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)
