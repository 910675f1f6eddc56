from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "chegouhub.notify"
    verbose_name = "Outbound alerts (Slack, Discord)"
