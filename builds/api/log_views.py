"""Build logs over HTTP: a whole log, the chunks since a cursor (live tailing), and text
search across stored logs. Workers append with ``POST /api/logs/stream`` (worker_views)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from django.core.handlers.asgi import ASGIRequest
from django.db.models import Max, QuerySet
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from packaging.utils import canonicalize_name
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builds.api.serializers import LogChunkSerializer
from builds.log_reader import aiter_log, iter_log
from builds.models import BuildJob, LogChunk
from refinery.lib.api_auth import IsReader
from refinery.lib.api_pagination import StrictLimitOffsetPagination
from refinery.lib.api_schema import ErrorSerializer
from refinery.lib.query_params import integer_param

_MAX_SEARCH = 200
_SEARCH_BATCH = 10
# A page of chunks (``LogChunksView``) stops after this much text, whatever ``limit`` says.
_PAGE_BYTES = 1024 * 1024


def _bad(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"error": message}, status=code)


def _int_param(request: Request, name: str) -> int | None:
    """An optional non-negative integer query parameter; ValueError names it when bad."""
    if name not in request.query_params:
        return None
    return integer_param(request.query_params, name, default=0)


def _job_for(name: str, version: str, job_id: int | None) -> BuildJob | None:
    """The given job of ``name==version``, else its most recently enqueued one."""
    jobs = BuildJob.objects.filter(name=canonicalize_name(name), version=version)
    if job_id is not None:
        jobs = jobs.filter(pk=job_id)
    return jobs.order_by("-enqueued_at", "-id").first()


_JOB_PARAM = OpenApiParameter("job", OpenApiTypes.INT, description="default: the latest job")


async def _ajson_with_text(head: dict[str, Any], text: AsyncIterator[str]) -> AsyncIterator[str]:
    """``head`` as a JSON object with a ``text`` member streamed from ``text``."""
    yield json.dumps(head)[:-1] + ', "text": "'
    async for piece in text:
        yield json.dumps(piece)[1:-1]
    yield '"}'


def _json_with_text(head: dict[str, Any], text: Iterator[str]) -> Iterator[str]:
    yield json.dumps(head)[:-1] + ', "text": "'
    for piece in text:
        yield json.dumps(piece)[1:-1]
    yield '"}'


def _streamed(
    request: Request, job_id: int, attempt: int | None, upto: int, head: dict[str, Any] | None
) -> Iterator[str] | AsyncIterator[str]:
    """The log as text (or, given ``head``, as JSON), in the iterator kind the server
    streams without buffering: Django reads a synchronous iterator whole under ASGI, and an
    asynchronous one whole under WSGI (the test client)."""
    if isinstance(request._request, ASGIRequest):
        text = aiter_log(job_id, attempt, upto)
        return text if head is None else _ajson_with_text(head, text)
    lines = iter_log(job_id, attempt, upto)
    return lines if head is None else _json_with_text(head, lines)


class LogView(APIView):
    """The stored log of ``name==version``'s latest job (or ``job``), all attempts in order
    or one ``attempt``, streamed: as JSON, or with ``download=1`` as the raw text (a file
    download). ``next_since`` is the cursor to tail on from with ``logs/chunks``."""

    permission_classes = [IsReader]

    @extend_schema(
        parameters=[
            _JOB_PARAM,
            OpenApiParameter("attempt", OpenApiTypes.INT),
            OpenApiParameter("download", OpenApiTypes.BOOL, description="the raw text"),
        ],
        responses={
            200: inline_serializer(
                "BuildLog",
                {
                    "job": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "attempts": serializers.IntegerField(),
                    "next_since": serializers.IntegerField(),
                    "text": serializers.CharField(),
                },
            ),
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, name: str, version: str) -> Any:
        try:
            job_id, attempt = _int_param(request, "job"), _int_param(request, "attempt")
        except ValueError as exc:
            return _bad(str(exc))
        download = request.query_params.get("download", "0")
        if download not in ("0", "1", "true", "false"):
            return _bad(f"download: {download!r} is not 1 or 0")
        job = _job_for(name, version, job_id)
        if job is None:
            return _bad(f"no build job of {name}=={version}", status.HTTP_404_NOT_FOUND)
        chunks = LogChunk.objects.filter(job=job)
        if attempt is not None:
            chunks = chunks.filter(attempt=attempt)
        upto = chunks.aggregate(last=Max("id"))["last"] or 0
        if download in ("1", "true"):
            response = StreamingHttpResponse(
                _streamed(request, job.pk, attempt, upto, None),
                content_type="text/plain; charset=utf-8",
            )
            filename = f"{job.name}-{job.version}-job{job.pk}.log"
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        head = {"job": job.pk, "status": job.status, "attempts": job.attempts, "next_since": upto}
        return StreamingHttpResponse(
            _streamed(request, job.pk, attempt, upto, head), content_type="application/json"
        )


class LogChunksView(APIView):
    """Chunks of ``name==version``'s latest job (or ``job``) stored after the cursor
    ``since`` (a chunk id; 0 for all), in order: poll with the ``next_since`` it answers to
    tail a running build. ``finished`` says no more will come."""

    permission_classes = [IsReader]

    @extend_schema(
        parameters=[_JOB_PARAM, OpenApiParameter("since", OpenApiTypes.INT)],
        responses={
            200: inline_serializer(
                "LogChunks",
                {
                    "job": serializers.IntegerField(),
                    "chunks": LogChunkSerializer(many=True),
                    "next_since": serializers.IntegerField(),
                    "finished": serializers.BooleanField(),
                },
            ),
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, name: str, version: str) -> Response:
        try:
            job_id, since = _int_param(request, "job"), _int_param(request, "since") or 0
        except ValueError as exc:
            return _bad(str(exc))
        job = _job_for(name, version, job_id)
        if job is None:
            return _bad(f"no build job of {name}=={version}", status.HTTP_404_NOT_FOUND)
        # Sizes first, so a page stops at _PAGE_BYTES before any text is loaded.
        wanted: list[int] = []
        size = 0
        newer = LogChunk.objects.filter(job=job, id__gt=since).order_by("id")
        for chunk_id, chunk_size in newer.values_list("id", "size")[:500]:
            if wanted and size + chunk_size > _PAGE_BYTES:
                break
            size += chunk_size
            wanted.append(chunk_id)
        chunks = list(LogChunk.objects.filter(id__in=wanted).order_by("id"))
        return Response(
            {
                "job": job.pk,
                "chunks": LogChunkSerializer(chunks, many=True).data,
                "next_since": chunks[-1].pk if chunks else since,
                "finished": job.is_final,
            }
        )


class LogSearchView(APIView):
    """Lines of stored build logs containing ``q`` (case-insensitive), newest jobs first;
    ``package`` narrows it to one project."""

    permission_classes = [IsReader]

    @extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, required=True, description="2-200 chars"),
            OpenApiParameter("package", OpenApiTypes.STR),
            OpenApiParameter("limit", OpenApiTypes.INT, description=f"at most {_MAX_SEARCH}"),
        ],
        responses={
            200: inline_serializer(
                "LogSearch",
                {
                    "q": serializers.CharField(),
                    "matches": inline_serializer(
                        "LogMatch",
                        {
                            "job": serializers.IntegerField(),
                            "package": serializers.CharField(),
                            "attempt": serializers.IntegerField(),
                            "chunk": serializers.IntegerField(),
                            "line": serializers.CharField(),
                        },
                        many=True,
                    ),
                },
            ),
            400: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not 2 <= len(query) <= 200:
            return _bad("q: search text of 2 to 200 characters is required")
        limit = min(StrictLimitOffsetPagination().get_limit(request), _MAX_SEARCH)
        chunks: QuerySet[LogChunk] = LogChunk.objects.filter(text__icontains=query)
        package = request.query_params.get("package")
        if package:
            chunks = chunks.filter(job__name=canonicalize_name(package))
        matches: list[dict[str, Any]] = []
        needle = query.lower()
        found = chunks.select_related("job").order_by("-job__enqueued_at", "-id")[:limit]
        for chunk in found.iterator(chunk_size=_SEARCH_BATCH):
            for line in chunk.text.splitlines():
                if needle in line.lower():
                    matches.append(
                        {
                            "job": chunk.job_id,
                            "package": f"{chunk.job.name}=={chunk.job.version}",
                            "attempt": chunk.attempt,
                            "chunk": chunk.pk,
                            "line": line[:2000],
                        }
                    )
                    if len(matches) >= limit:
                        return Response({"q": query, "matches": matches})
        return Response({"q": query, "matches": matches})
