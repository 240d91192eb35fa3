from django.apps import AppConfig


class BuildsConfig(AppConfig):
    name = "builds"
    verbose_name = "Builds"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from builds.cluster_signals import on_worker_spawn
        from builds.notifications.receivers import on_input_status
        from refinery.lib.signals import input_status_changed

        input_status_changed.connect(on_input_status, dispatch_uid="builds.notifications")
        post_spawn.connect(on_worker_spawn, dispatch_uid="builds.drain_on_spawn")
