"""API errors answer {"erro": "<clear reason>"} (CONTRACT section 4), keeping DRF's field detail.

503 means the database could not be reached, and nothing else (CONTRACT section 8): Shopify and
clients retry a 503. Input the database cannot hold is refused by validation first, naming the
field (chegouhub/common/validation.py); a DataError that still gets through (a concurrent change
pushing a sum out of range) is the client's input too, so 400, never 503.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, (OperationalError, InterfaceError)):
        return Response(
            {"erro": "Banco de dados indisponível; tente novamente."}, status=status.HTTP_503_SERVICE_UNAVAILABLE
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DataError):
            return Response({"erro": "Valor fora do que o banco de dados aceita (número grande demais ou "
                                     "caractere inválido)."}, status=status.HTTP_400_BAD_REQUEST)
        if isinstance(exc, IntegrityError):
            return Response({"erro": "Conflito com dados existentes; recarregue e tente novamente."},
                            status=status.HTTP_409_CONFLICT)
        if isinstance(exc, DatabaseError):
            # A query the database refused for another reason is a bug here, not an outage.
            log.error("database error answered 500", extra={"error_type": type(exc).__name__})
            return Response({"erro": "Erro interno."}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
        return None
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        response.data = {"erro": str(data["detail"])}
    elif isinstance(data, (dict, list)):
        response.data = {"erro": "Dados inválidos.", "campos": data}
    return response
