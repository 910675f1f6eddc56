from django.apps import AppConfig


class ShopifyConfig(AppConfig):
    name = "chegouhub.shopify"
    label = "shopify"

    def ready(self) -> None:
        # Stores decides who owns a shop domain; proving a token opens the shop is the Admin API's job.
        from chegouhub.stores.ownership import register_token_checker

        from .subscriptions import token_opens_shop

        register_token_checker(token_opens_shop)
