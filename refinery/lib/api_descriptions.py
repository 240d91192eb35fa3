"""The browsable API's description of a view, from its docstring: the house style quotes
names as ``name`` (reStructuredText), which the page shows as code, not as backticks."""

from __future__ import annotations

import re
from typing import Any

from django.utils.encoding import smart_str
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from rest_framework.utils import formatting

_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)


def view_description(view: Any, html: bool = False) -> str | SafeString:
    text = getattr(view, "description", view.__class__.__doc__) or ""
    text = formatting.dedent(smart_str(text))
    if not html:
        return _LITERAL.sub(r"`\1`", text)
    paragraphs = [p.strip() for p in escape(text).split("\n\n") if p.strip()]
    body = "".join("<p>" + _LITERAL.sub(r"<code>\1</code>", p) + "</p>" for p in paragraphs)
    return mark_safe(body)
