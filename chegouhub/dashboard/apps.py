from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "chegouhub.dashboard"
    label = "dashboard"
