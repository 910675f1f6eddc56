"""System check (docs/tokens.md): the Admin API versions in use are still supported by Shopify
(each stable version for twelve months after its release)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register

from chegouhub.common.apiversion import is_supported_api_version, supported_until


def unsupported_loja_versions() -> dict[str, list[int]]:
    """The lojas' own `api_version`s that Shopify no longer supports: version -> loja ids."""
    from chegouhub.stores.models import Loja

    found: dict[str, list[int]] = {}
    for pk, version in Loja.objects.exclude(api_version="").values_list("pk", "api_version"):
        if not is_supported_api_version(version):
            found.setdefault(version, []).append(pk)
    return found


@register("shopify")
def api_version_supported(app_configs=None, databases=None, **kwargs):
    problems = []
    version = settings.SHOPIFY_API_VERSION
    if not is_supported_api_version(version):
        problems.append(Warning(
            f"SHOPIFY_API_VERSION={version} is no longer supported by Shopify (since {supported_until(version)}).",
            hint="Set SHOPIFY_API_VERSION to a stable version released in the last twelve months (2026-10).",
            id="chegouhub.W001"))
    if databases:  # the lojas' own versions need the database (`manage.py check --database default`)
        try:
            for old, ids in unsupported_loja_versions().items():
                problems.append(Warning(
                    f"Lojas {ids[:20]} use api_version {old}, no longer supported by Shopify.",
                    hint="Clear their api_version (the settings default is used) or set a supported one.",
                    id="chegouhub.W002"))
        except Exception:  # no table yet (before migrate): nothing to say about lojas
            pass
    return problems
