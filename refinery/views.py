from django.http import HttpRequest, JsonResponse


def health(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers HTTP. Readiness (DB, broker, storage) is /api/ready."""
    return JsonResponse({"status": "ok"})
