"""Pages of list endpoints: ``limit`` (default 50, at most 500) and ``offset``.

DRF's own limit/offset paginator quietly replaces a bad ``limit`` with the default; ours
refuses it with a 400 naming the parameter, as every other input here is refused.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

from refinery.lib.query_params import QueryParamError, integer_param

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


class StrictLimitOffsetPagination(LimitOffsetPagination):
    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT

    def get_limit(self, request: Request) -> int:
        return self._integer(request, self.limit_query_param, DEFAULT_LIMIT, 1, MAX_LIMIT)

    def get_offset(self, request: Request) -> int:
        return self._integer(request, self.offset_query_param, 0, 0, None)

    @staticmethod
    def _integer(
        request: Request, name: str, default: int, minimum: int, maximum: int | None
    ) -> int:
        try:
            return integer_param(
                request.query_params, name, default=default, minimum=minimum, maximum=maximum
            )
        except QueryParamError as exc:
            raise ValidationError({name: str(exc).split(": ", 1)[1]}) from None
