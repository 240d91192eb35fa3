from django.apps import AppConfig


class RefineryConfig(AppConfig):
    name = "refinery"
    verbose_name = "Wheel Refinery"

    def ready(self) -> None:
        # drf-spectacular learns about the worker-token scheme when its extension is imported.
        from refinery.lib import api_schema  # noqa: F401
