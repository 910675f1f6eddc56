"""`python manage.py list_permanent_tokens`: the lojas connected through the install flow that still
hold a non-expiring offline token. Shopify rejects those from 2027-01-01; each merchant reconnects
the loja (the dashboard's "Reconectar", the install flow) to get an expiring one. Pasted custom-app
tokens are not listed: Shopify's rule does not apply to them."""

from __future__ import annotations

from django.core.management import BaseCommand

from chegouhub.shopify.tokens import NON_EXPIRING_CUTOFF, permanent_install_tokens, reconnect_url


class Command(BaseCommand):
    help = "List the install-flow lojas still holding a non-expiring token (they stop on 2027-01-01)."

    def handle(self, *args, **options):
        lojas = list(permanent_install_tokens().select_related("owner"))
        cutoff = NON_EXPIRING_CUTOFF.isoformat()
        if not lojas:
            self.stdout.write(f"Nenhuma loja com token permanente do app (Shopify os recusa a partir de {cutoff}).")
            return
        self.stdout.write(f"{len(lojas)} loja(s) com token permanente do app; param de funcionar em {cutoff}. "
                          "Reconecte cada uma pelo fluxo de instalação:")
        for loja in lojas:
            self.stdout.write(f"  loja {loja.pk}\t{loja.shop_domain}\t{loja.nome}\tdono: {loja.owner.get_username()}"
                              f"\treconectar: {reconnect_url(loja.shop_domain)}")
