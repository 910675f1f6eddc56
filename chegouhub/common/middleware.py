"""Query parameters the database cannot take (NUL, control characters) answer 400 naming the
parameter, on every page and API route, before any view turns one into a query (CONTRACT section 8)."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import JsonResponse

from .validation import CONTROL_MESSAGE, has_control_characters

# The webhook receiver reads its own request (and takes no query); it is left exactly as it is.
_EXEMPT_PREFIXES = ("/api/estoque/webhook/shopify/",)


def bad_query_params(request) -> dict[str, list[str]]:
    if not request.META.get("QUERY_STRING") or request.path_info.startswith(_EXEMPT_PREFIXES):
        return {}
    bad: dict[str, list[str]] = {}
    for name, values in request.GET.lists():
        if has_control_characters(name) or any(has_control_characters(v) for v in values):
            bad[name.encode("unicode_escape").decode("ascii")[:100]] = [CONTROL_MESSAGE]
    return bad


class QueryParamsMiddleware:
    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self.__acall__(request)
        bad = bad_query_params(request)
        if bad:
            return _refuse(bad)
        return self.get_response(request)

    async def __acall__(self, request):
        bad = bad_query_params(request)
        if bad:
            return _refuse(bad)
        return await self.get_response(request)


def _refuse(bad: dict[str, list[str]]) -> JsonResponse:
    return JsonResponse({"erro": "Parâmetro inválido.", "campos": bad}, status=400)
