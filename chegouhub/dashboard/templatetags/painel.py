"""Template filters of the merchant's app: numbers as a Brazilian reads them."""

from django import template

register = template.Library()


@register.filter
def numero(value) -> str:
    """1234567 -> "1.234.567" (pt-BR thousands), as the page's JS writes it (toLocaleString("pt-BR"))."""
    try:
        return f"{int(value):,}".replace(",", ".")
    except (TypeError, ValueError):
        return str(value)
