"""The inscrição's wire shape (CONTRACT section 11). Validation only: the writing is services.subscribe."""

from __future__ import annotations

import binascii

from cryptography.hazmat.primitives.asymmetric import ec
from rest_framework import serializers

from chegouhub.stores.models import Loja

from .endpoints import EndpointRefused, check_endpoint
from .services import DEFAULT_TIPOS, TIPOS
from .vapid import b64url_decode

ENDPOINT_MAX = 2048


class KeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200)
    auth = serializers.CharField(max_length=100)

    def validate_p256dh(self, value: str) -> str:
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(value))
        except (ValueError, binascii.Error):
            raise serializers.ValidationError("Chave pública P-256 inválida (base64url, ponto não comprimido).")
        return value

    def validate_auth(self, value: str) -> str:
        try:
            raw = b64url_decode(value)
        except (ValueError, binascii.Error):
            raw = b""
        if len(raw) != 16:
            raise serializers.ValidationError("O segredo auth deve ter 16 bytes em base64url.")
        return value


class InscricaoSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    endpoint = serializers.CharField(max_length=ENDPOINT_MAX)
    keys = KeysSerializer(write_only=True)
    lojas = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
                                  required=False, default=list, max_length=1000)
    tipos = serializers.ListField(child=serializers.ChoiceField(choices=TIPOS), required=False,
                                  max_length=len(TIPOS))
    created_at = serializers.DateTimeField(read_only=True)

    def validate_endpoint(self, value: str) -> str:
        if "\x00" in value:
            raise serializers.ValidationError("Endereço inválido.")
        try:
            check_endpoint(value)
        except EndpointRefused as exc:
            raise serializers.ValidationError(str(exc))
        return value

    def validate_lojas(self, value: list[int]) -> list[Loja]:
        wanted = set(value)
        lojas = list(Loja.objects.filter(owner=self.context["request"].user, pk__in=wanted))
        unknown = sorted(wanted - {loja.pk for loja in lojas})
        if unknown:
            raise serializers.ValidationError(f"Lojas inexistentes ou de outro usuário: {unknown}.")
        return lojas

    def validate_tipos(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value)) or list(DEFAULT_TIPOS)

    def to_representation(self, inscricao):
        return {
            "id": inscricao.pk,
            "endpoint": inscricao.endpoint,
            "lojas": sorted(loja.pk for loja in inscricao.lojas.all()),
            "tipos": inscricao.tipos,
            "created_at": serializers.DateTimeField().to_representation(inscricao.created_at),
        }
