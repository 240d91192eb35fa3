"""Hint patterns are an operator's regular expressions run on untrusted logs: a pattern
that backtracks without end gives up within its time limit instead of hanging the worker."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError

from hints.patterns import LineSearch, compile_pattern
from tests.factories import HintFactory

pytestmark = pytest.mark.django_db


def test_a_catastrophic_pattern_gives_up_on_each_line_within_its_limit():
    search = LineSearch(compile_pattern(r"(x+x+)+y"), timeout=0.05)
    lines = ["x" * 5_000] * 20 + ["xxy"]
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.append(search.first(lines)), daemon=True)
    worker.start()
    worker.join(30)  # unbounded, this pattern would run for longer than the universe
    assert found == ["xxy"]
    assert search.timed_out == 20


def test_an_ordinary_pattern_finds_its_line():
    search = LineSearch(compile_pattern(r"fatal error: (\S+\.h): No such file"))
    lines = ["gcc -c x.c", "x.c:1:10: fatal error: ffi.h: No such file or directory"]
    assert search.first(lines) == lines[1]
    assert search.timed_out == 0


def test_a_pattern_that_does_not_compile_is_refused_when_the_hint_is_saved():
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        HintFactory.build(pattern="(unclosed").full_clean()
