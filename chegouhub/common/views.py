from __future__ import annotations

from django.http import JsonResponse

from .health import readiness


def healthz(request):
    """Alive: the process answers."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Ready: the database answers, and every check the apps registered (the channel layer)."""
    checks = readiness()
    ok = all(checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


def metrics(request):
    """Prometheus exposition, behind `Authorization: Bearer <METRICS_TOKEN>`; without a token
    configured, open only in debug (its numbers describe the business: no public scraping)."""
    import hmac

    from django.conf import settings
    from django.http import HttpResponse
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from chegouhub.common.metrics import scrape_registry

    token = getattr(settings, "METRICS_TOKEN", "")
    if not token and not settings.METRICS_OPEN_WITHOUT_TOKEN:
        return JsonResponse({"erro": "Métricas desativadas: defina METRICS_TOKEN para expor /metrics "
                                     "(sem token, só com DJANGO_DEBUG=true)."}, status=403)
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JsonResponse({"erro": "Token de métricas ausente ou inválido."}, status=401)
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def sidecar_static(request, path):
    """Swagger UI's own files (drf-spectacular-sidecar) for /api/docs/, served by the app itself so
    the docs work offline and without a separate static server, whatever DEBUG is."""
    from django.contrib.staticfiles.views import serve
    from django.http import Http404

    if any(part in ("", ".", "..") for part in path.split("/")):
        raise Http404("not found")
    response = serve(request, f"drf_spectacular_sidecar/{path}", insecure=True)
    response["Cache-Control"] = "public, max-age=86400"
    return response
