from __future__ import annotations

from contextlib import nullcontext
from decimal import Decimal
from zoneinfo import ZoneInfo, available_timezones

from django.utils import timezone

from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from . import money
from .models import TaxaCambio
from .selectors import sales_summary


class CurrencyField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=3, min_length=3, **kwargs)

    def to_internal_value(self, data):
        code = super().to_internal_value(data).strip().upper()
        if not money.is_currency(code):
            raise serializers.ValidationError("Moeda desconhecida: use um código ISO 4217 (BRL, USD, EUR...).")
        return code


class SummaryQuery(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=366, default=7)
    loja_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    agrupar = serializers.ChoiceField(choices=["hora", "dia"], default="dia")
    moeda_relatorio = CurrencyField(default="BRL")
    fuso = serializers.CharField(required=False, max_length=64)  # the zone whose hours and days group the series

    def validate_fuso(self, value: str) -> str:
        if value not in available_timezones():
            raise serializers.ValidationError("Fuso horário desconhecido: use um nome IANA (ex.: America/Sao_Paulo).")
        return value


class SalesSummaryView(APIView):
    """`GET /api/vendas/resumo/`: what the user's lojas sold, per currency and converted."""

    def get(self, request):
        query = SummaryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        with timezone.override(ZoneInfo(q["fuso"])) if q.get("fuso") else nullcontext():
            return Response(sales_summary(user=request.user, days=q["days"], loja_id=q.get("loja_id"),
                                          group=q["agrupar"], report_currency=q["moeda_relatorio"]))


class TaxaCambioSerializer(serializers.ModelSerializer):
    moeda = CurrencyField()
    moeda_relatorio = CurrencyField(default="BRL")
    taxa = serializers.DecimalField(max_digits=24, decimal_places=10, min_value=Decimal("0.0000000001"),
                                    max_value=money.MAX_RATE, coerce_to_string=True)

    class Meta:
        model = TaxaCambio
        fields = ["id", "moeda", "moeda_relatorio", "taxa", "vigente_desde"]

    def validate(self, attrs):
        moeda = attrs.get("moeda", getattr(self.instance, "moeda", None))
        relatorio = attrs.get("moeda_relatorio", getattr(self.instance, "moeda_relatorio", "BRL"))
        if moeda == relatorio:
            raise serializers.ValidationError({"moeda": "A moeda e a moeda do relatório devem ser diferentes."})
        owner = self.context["request"].user
        clash = TaxaCambio.objects.filter(owner=owner, moeda=moeda, moeda_relatorio=relatorio,
                                          vigente_desde=attrs.get("vigente_desde",
                                                                  getattr(self.instance, "vigente_desde", None)))
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError({"vigente_desde": "Já existe uma taxa para esta moeda neste dia."})
        return attrs


class TaxaCambioViewSet(viewsets.ModelViewSet):
    """`/api/cambio/`: the user's own exchange rates (nothing is fetched from the internet)."""

    serializer_class = TaxaCambioSerializer

    def get_queryset(self):
        return TaxaCambio.objects.filter(owner_id=self.request.user.pk)

    def perform_create(self, serializer):
        serializer.save(owner=self.request.user)
