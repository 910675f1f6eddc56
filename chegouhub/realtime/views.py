from __future__ import annotations

from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .events import serialize_event
from .selectors import events_after


class EventsQuery(serializers.Serializer):
    since = serializers.IntegerField(min_value=0, default=0)
    loja_id = serializers.IntegerField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=500)


class EventsView(APIView):
    """Polling fallback: the same event objects, with the same ids, as the sockets."""

    def get(self, request):
        query = EventsQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        since = q["since"]
        events = events_after(user_id=request.user.pk, since=since, loja_id=q.get("loja_id"), limit=q["limit"])
        last_id = events[-1].id if events else since
        return Response({"events": [serialize_event(e) for e in events], "last_id": last_id})
