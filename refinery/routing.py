"""WebSocket routes, gathered from the apps that serve live pages."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
