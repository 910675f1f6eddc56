from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "chegouhub.inventory"
    label = "inventory"
