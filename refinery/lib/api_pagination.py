"""Pages of list endpoints: ``limit`` (default 50, at most 500) and ``offset``.

DRF's own limit/offset paginator quietly replaces a bad ``limit`` with the default; ours
refuses it with a 400 naming the parameter, as every other input here is refused.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class StrictLimitOffsetPagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return DEFAULT_LIMIT
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise ValidationError({"limit": f"{raw!r} is not an integer from 1 to {MAX_LIMIT}"})
        return int(raw)

    def get_offset(self, request: Request) -> int:
        raw = request.query_params.get(self.offset_query_param, "0")
        if not raw.isdigit() or int(raw) > 10**9:
            raise ValidationError({"offset": f"{raw!r} is not a non-negative integer"})
        return int(raw)
