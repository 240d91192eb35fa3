"""The simple repository over Django: pages (first renders, redirects, ``?format=``, errors)
and the files themselves. Published pages are usually answered by ``fast_path`` first."""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, BinaryIO, TypeVar, cast

from asgiref.sync import sync_to_async
from django.core.files.storage import default_storage
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.views.decorators.http import condition, require_safe
from packaging.utils import canonicalize_name
from werkzeug.http import parse_range_header

from builds.index import catalog
from builds.index.negotiation import NotAcceptable, choose
from builds.index.publishing import published_page
from builds.index.responses import page_response
from builds.models import Artifact
from refinery.lib.metrics import count_index_request

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])

_CHUNK = 1 << 20
# PEP 508's name grammar: anything else names no project, so it is a 404, not a redirect.
_PROJECT_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def counted(kind: str) -> Callable[[_View], _View]:
    """Count the view's requests by status, 404s raised as Http404 included."""

    def decorate(view: _View) -> _View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                response = view(request, *args, **kwargs)
            except Http404:
                count_index_request(kind, 404)
                raise
            count_index_request(kind, response.status_code)
            return response

        return cast(_View, wrapper)

    return decorate


@counted("page")
@require_safe
def simple_root(request: HttpRequest, target: str | None = None) -> HttpResponseBase:
    return _page(request, target, None)


@counted("page")
@require_safe
def simple_project(
    request: HttpRequest, project: str, target: str | None = None
) -> HttpResponseBase:
    if not _PROJECT_NAME.fullmatch(project):
        raise Http404(f"{project!r} is not a project name")
    canonical = canonicalize_name(project)
    if canonical != project:
        # PEP 503: one URL per project; clients follow the redirect.
        location = request.path[: -len(project) - 1] + canonical + "/"
        if request.META.get("QUERY_STRING"):
            location += "?" + request.META["QUERY_STRING"]
        return HttpResponsePermanentRedirect(location)
    return _page(request, target, project)


def _page(request: HttpRequest, slug: str | None, project: str | None) -> HttpResponse:
    index_target = catalog.target_for_slug(slug)
    if index_target is None:
        raise Http404(f"no index for target {slug!r}")
    try:
        page_format = choose(request.headers.get("Accept"), request.GET.get("format"))
    except NotAcceptable as exc:
        return HttpResponse(
            f"{exc}\n",
            status=406,
            content_type="text/plain; charset=utf-8",
            headers={"Vary": "Accept"},
        )
    page = published_page(index_target, project, page_format.kind)
    if page is None:
        raise Http404(f"no files of {project!r} for {index_target.slug}")
    rendered = page_response(
        page,
        page_format,
        head=request.method == "HEAD",
        if_none_match=request.headers.get("If-None-Match"),
        if_modified_since=request.headers.get("If-Modified-Since"),
    )
    response = HttpResponse(rendered.body, status=rendered.status)
    if rendered.status == 304:
        del response["Content-Type"]  # no content headers, as the fast path and nginx answer
    for name, value in rendered.headers:
        response[name] = value
    return response


def _artifact(sha256: str, filename: str) -> Artifact:
    return get_object_or_404(Artifact, sha256=sha256, filename=filename)


def _file_etag(request: HttpRequest, sha256: str, filename: str, target: str | None = None) -> str:
    return f'"{sha256}"'  # content-addressed: the hash is the version


def _file_modified(
    request: HttpRequest, sha256: str, filename: str, target: str | None = None
) -> datetime:
    return _artifact(sha256, filename).uploaded_at


@counted("file")
@require_safe
@condition(etag_func=_file_etag, last_modified_func=_file_modified)
def wheel_file(
    request: HttpRequest, sha256: str, filename: str, target: str | None = None
) -> HttpResponseBase:
    artifact = _artifact(sha256, filename)
    try:
        path = default_storage.path(artifact.storage_key)
    except NotImplementedError:  # object storage: the client fetches from it directly
        return HttpResponseRedirect(default_storage.url(artifact.storage_key))
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the streaming generator
    except FileNotFoundError:
        raise Http404(f"{filename} is recorded but its bytes are missing from storage") from None
    size = artifact.size
    start, stop, status = 0, size, 200
    wanted = parse_range_header(request.headers.get("Range"))
    if_range = request.headers.get("If-Range")
    # A multi-range request is answered with the whole file, as RFC 9110 allows.
    if wanted is not None and len(wanted.ranges) == 1 and if_range in (None, f'"{sha256}"'):
        bounds = wanted.range_for_length(size)
        if bounds is None:
            handle.close()
            return HttpResponse(status=416, headers={"Content-Range": f"bytes */{size}"})
        (start, stop), status = bounds, 206
    response = StreamingHttpResponse(
        _stream(handle, start, stop) if request.method == "GET" else _empty(handle),
        status=status,
        content_type="application/octet-stream",
    )
    response["Content-Length"] = str(stop - start)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = f'attachment; filename="{artifact.filename}"'
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
    return response


async def _stream(handle: BinaryIO, start: int, stop: int) -> AsyncIterator[bytes]:
    try:
        await sync_to_async(handle.seek)(start)
        remaining = stop - start
        while remaining > 0:
            block = await sync_to_async(handle.read)(min(_CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()


async def _empty(handle: BinaryIO) -> AsyncIterator[bytes]:
    handle.close()
    return
    yield b""  # makes this an (empty) async generator


def _metadata_etag(
    request: HttpRequest, sha256: str, filename: str, target: str | None = None
) -> str:
    return f'"{_artifact(sha256, filename).metadata_sha256}"'


@counted("metadata")
@require_safe
@condition(etag_func=_metadata_etag)
def wheel_metadata(
    request: HttpRequest, sha256: str, filename: str, target: str | None = None
) -> HttpResponse:
    """PEP 658: the wheel's METADATA, byte for byte, so resolvers need not download it."""
    artifact = _artifact(sha256, filename)
    body = artifact.core_metadata.encode("utf-8")
    return HttpResponse(
        b"" if request.method == "HEAD" else body,
        content_type="application/octet-stream",
        headers={"Content-Length": str(len(body))},
    )
