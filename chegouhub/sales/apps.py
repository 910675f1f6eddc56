from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "chegouhub.sales"
    label = "sales"
    verbose_name = "Sales values and exchange rates"
