"""What the merchant sets in Configurações for their own app."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.db import models

DEFAULT_TIME_ZONE = "America/Sao_Paulo"
# Brazil's zones first, by the name a merchant knows them by; any other IANA zone is accepted too.
FUSOS_BRASIL = [
    ("America/Sao_Paulo", "Brasília (São Paulo, Rio, Minas, Sul, Nordeste oriental)"),
    ("America/Bahia", "Bahia"), ("America/Fortaleza", "Fortaleza"), ("America/Recife", "Recife"),
    ("America/Belem", "Belém"), ("America/Manaus", "Manaus (Amazonas)"), ("America/Cuiaba", "Cuiabá (Mato Grosso)"),
    ("America/Campo_Grande", "Campo Grande (Mato Grosso do Sul)"), ("America/Porto_Velho", "Porto Velho (Rondônia)"),
    ("America/Boa_Vista", "Boa Vista (Roraima)"), ("America/Rio_Branco", "Rio Branco (Acre)"),
    ("America/Noronha", "Fernando de Noronha"), ("Europe/Lisbon", "Lisboa"), ("UTC", "UTC"),
]


def valid_time_zone(name: str) -> bool:
    return name in available_timezones()


class Preferencias(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferencias_painel")
    fuso = models.CharField(max_length=64, default=DEFAULT_TIME_ZONE)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.fuso)


def user_time_zone(user) -> str:
    """The zone every time of the user's app is shown in (and their sales' days are cut at)."""
    fuso = Preferencias.objects.filter(user_id=user.pk).values_list("fuso", flat=True).first()
    return fuso or DEFAULT_TIME_ZONE


def set_user_time_zone(user, fuso: str) -> None:
    Preferencias.objects.update_or_create(user=user, defaults={"fuso": fuso})
