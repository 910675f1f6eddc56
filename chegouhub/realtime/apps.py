from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "chegouhub.realtime"
    label = "realtime"
