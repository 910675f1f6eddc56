from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    name = "chegouhub.devtools"
    label = "devtools"
