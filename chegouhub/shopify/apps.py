from django.apps import AppConfig


class ShopifyConfig(AppConfig):
    name = "chegouhub.shopify"
    label = "shopify"
