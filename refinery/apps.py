from django.apps import AppConfig


class RefineryConfig(AppConfig):
    name = "refinery"
    verbose_name = "Wheel Refinery"
