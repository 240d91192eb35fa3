"""ASGI entry point: Django over HTTP, Channels consumers over WebSocket (uvicorn or daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refinery.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from builds.index.fast_path import IndexFastPath  # noqa: E402
from refinery.lib.body_limits import RequestBodyLimit  # noqa: E402
from refinery.lib.ws_auth import HeaderTokenAuthMiddleware  # noqa: E402
from refinery.routing import websocket_urlpatterns  # noqa: E402

_router = ProtocolTypeRouter(
    {
        # Oversized or anonymous bodies are refused before anything reads them.
        "http": RequestBodyLimit(django_asgi_app),
        # Live logs and plan status: the session's user, or the API's token headers.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(HeaderTokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
# Published simple pages are answered first, before any other layer (the index is the
# hottest path; see builds/index/fast_path.py): the fast path reads no request body.
application = IndexFastPath(_router)
