"""Pagination of the API's lists.

Short lists (lojas, produtos, mapeamentos, ...) page by number with a `count`. Lists that grow with
history (movements, deliveries, divergences, resolved alerts) page by cursor (CONTRACT 3): a page is
`WHERE id < <cursor> ORDER BY id DESC LIMIT n+1` on an index, whatever the history behind it, and
`count` is `null` because counting millions of rows for one page is what made those pages slow
(docs/history.md). `next`/`previous` stay links. A client still sending `?page=N` gets that page
by offset (no count either), and page links onward, so old bookmarks and scripts keep working.
"""

from __future__ import annotations

from collections import OrderedDict

from rest_framework.pagination import CursorPagination, PageNumberPagination, _positive_int
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class HistoryPagination(CursorPagination):
    """Newest first, by id (unique, indexed, and the order rows were written in)."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500
    legacy_page = None  # the `?page=N` a client sent, when it sent one

    def paginate_queryset(self, queryset, request, view=None):
        raw_page = request.query_params.get("page")
        if raw_page and not request.query_params.get(self.cursor_query_param):
            return self._paginate_by_page_number(queryset, request, raw_page)
        self.legacy_page = None
        return super().paginate_queryset(queryset, request, view)

    def _paginate_by_page_number(self, queryset, request, raw_page):
        try:
            self.legacy_page = _positive_int(raw_page, strict=True)
        except ValueError:
            self.legacy_page = 1
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        start = (self.legacy_page - 1) * self.page_size
        rows = list(queryset.order_by(self.ordering)[start:start + self.page_size + 1])
        self.legacy_has_next = len(rows) > self.page_size
        return rows[:self.page_size]

    def get_next_link(self):
        if self.legacy_page is None:
            return super().get_next_link()
        if not self.legacy_has_next:
            return None
        return replace_query_param(self.base_url, "page", self.legacy_page + 1)

    def get_previous_link(self):
        if self.legacy_page is None:
            return super().get_previous_link()
        if self.legacy_page <= 1:
            return None
        if self.legacy_page == 2:
            return remove_query_param(self.base_url, "page")
        return replace_query_param(self.base_url, "page", self.legacy_page - 1)

    def get_paginated_response(self, data):
        return Response(OrderedDict([
            ("count", None),
            ("next", self.get_next_link()),
            ("previous", self.get_previous_link()),
            ("results", data),
        ]))

    def get_paginated_response_schema(self, schema):
        out = super().get_paginated_response_schema(schema)
        out["properties"] = {"count": {"type": "integer", "nullable": True, "example": None}, **out["properties"]}
        return out
