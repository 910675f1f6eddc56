from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "chegouhub.accounts"
    label = "accounts"
