"""WebSocket routes, gathered from the apps that serve live pages."""

from django.urls import URLPattern, URLResolver, path

from builds.consumers import BuildLogConsumer, PlanConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/builds/<int:job_id>/log/", BuildLogConsumer.as_asgi()),
    path("ws/plans/<int:plan_id>/", PlanConsumer.as_asgi()),
]
