from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inputs.api.serializers import (
    PendingInputSerializer,
    RequirementsUploadResultSerializer,
    RequirementsUploadSerializer,
)
from inputs.services import UploadError, upload_requirements
from refinery.lib.api_auth import IsWorkerOrStaff
from refinery.lib.api_errors import first_error
from refinery.lib.api_schema import ErrorSerializer
from refinery.lib.priority import Priority


class RequirementsUploadView(APIView):
    """Upload a requirements file (multipart ``file``); 201 when stored, 200 when identical."""

    parser_classes = [MultiPartParser, FormParser]
    permission_classes = [IsWorkerOrStaff]

    @extend_schema(
        request={"multipart/form-data": RequirementsUploadSerializer},
        responses={
            201: RequirementsUploadResultSerializer,
            200: RequirementsUploadResultSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def post(self, request: Request) -> Response:
        form = RequirementsUploadSerializer(data=request.data)
        if not form.is_valid():
            return Response({"error": first_error(form.errors)}, status=status.HTTP_400_BAD_REQUEST)
        data = form.validated_data
        upload = data["file"]
        try:
            result = upload_requirements(
                upload.read(),
                upload.name or "requirements.txt",
                python_version=data.get("python_version"),
                platform_tag=data.get("platform_tag"),
                priority=Priority.from_name(data["priority"]),
                strategy=data.get("strategy"),
                overrides=data.get("overrides"),
            )
        except UploadError as exc:
            return Response({"error": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        body = {
            "created": result.created,
            "message": result.message,
            "input": PendingInputSerializer(result.pending).data,
        }
        return Response(
            body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )
