from django.apps import AppConfig


class HintsConfig(AppConfig):
    name = "hints"
    verbose_name = "Hints and recipes"
