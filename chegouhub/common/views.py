from __future__ import annotations

from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """Alive: the process answers."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Ready: the database answers and the channel layer is reachable."""
    from chegouhub.realtime.status import channel_layer_available

    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = True
    except Exception:
        checks["database"] = False
    checks["channel_layer"] = channel_layer_available()
    ok = all(checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)
