"""API errors answer {"erro": "<clear reason>"} (CONTRACT section 4), keeping DRF's field detail."""

from __future__ import annotations

from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, (OperationalError, InterfaceError)):
        return Response(
            {"erro": "Banco de dados indisponível; tente novamente."}, status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            return Response({"erro": "Erro de banco de dados."}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return None
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        response.data = {"erro": str(data["detail"])}
    elif isinstance(data, (dict, list)):
        response.data = {"erro": "Dados inválidos.", "campos": data}
    return response
