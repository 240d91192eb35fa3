"""A published page's validators are nginx's (modification second and size), and a changed
page never keeps the validators of the one it replaced."""

from __future__ import annotations

import os

from builds.index.page_store import PageStore
from builds.index.pages import RenderedPage


def _page(text: str) -> RenderedPage:
    return RenderedPage(html=text.encode(), json=text.encode())


def test_a_page_changed_within_the_second_at_the_same_size_gets_a_new_etag(tmp_path):
    store = PageStore(tmp_path)
    store.put("cp311-x", "demo", _page("version 1.0"))
    first = store.get("cp311-x", "demo", "json")
    path = store.path("cp311-x", "demo", "json")
    os.utime(path, (first.modified, first.modified))  # as if both writes fell in one second

    store.put("cp311-x", "demo", _page("version 1.1"))  # same length
    second = store.get("cp311-x", "demo", "json")

    assert second.body == b"version 1.1"
    assert second.etag != first.etag
    assert second.modified > first.modified


def test_the_etag_is_the_one_nginx_gives_the_same_file(tmp_path):
    store = PageStore(tmp_path)
    store.put("cp311-x", "demo", _page("<html>demo</html>"))
    stat = os.stat(store.path("cp311-x", "demo", "html"))

    page = store.get("cp311-x", "demo", "html")

    assert page.etag == f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'


def test_an_unchanged_page_keeps_its_validators(tmp_path):
    store = PageStore(tmp_path)
    store.put("cp311-x", "demo", _page("same"))
    before = store.get("cp311-x", "demo", "html")

    store.put("cp311-x", "demo", _page("same"))

    assert store.get("cp311-x", "demo", "html") == before
