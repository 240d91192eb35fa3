"""Keeping the pre-rendered pages true to the store: re-render a project's pages (and the
project lists) for every target it serves whenever its artifacts change, and render a page
on first request when it was never rendered (a new target, a wiped pages directory)."""

from __future__ import annotations

from django.db import transaction

from builds.index import catalog
from builds.index.catalog import IndexTarget
from builds.index.page_store import ROOT_PAGE, page_store
from builds.index.pages import render_project, render_root, root_lists
from builds.index.responses import CachedPage
from builds.models import Artifact
from refinery.lib import follow_ups
from refinery.lib.metrics import INDEX_CACHE_HITS, INDEX_CACHE_MISSES


def refresh_project(name: str) -> None:
    """Re-render ``name``'s pages and the project lists of every index."""
    store = page_store()
    for target in catalog.index_targets():
        with store.locked(target.slug):
            # Read the store inside the lock: whoever renders last saw every commit before it.
            files = catalog.project_files(target, name)
            store.put(target.slug, name, render_project(name, files) if files else None)
            # The project list changes only when a project gains its first file or loses its
            # last; finding every name is a scan of the whole store, so it is done only then.
            root = store.get(target.slug, ROOT_PAGE, "json")
            if root is None or root_lists(root.body, name) != bool(files):
                store.put(target.slug, ROOT_PAGE, render_root(catalog.project_names(target)))


def refresh_after_commit(name: str) -> None:
    """Refresh once the caller's transaction commits (pages must not show uncommitted rows)."""

    # robust: the row is committed whatever happens here; a failed refresh is logged and the
    # page is rendered again by the next publish or `manage.py rebuild_index`. A build slot
    # hands it to its background thread (follow_ups), where asks for one project gather.
    transaction.on_commit(
        lambda: follow_ups.soon(("index", name), lambda: refresh_project(name)), robust=True
    )


def rebuild_all() -> int:
    """Re-render every page of every index; returns the number of project pages."""
    store = page_store()
    pages = 0
    for target in catalog.index_targets():
        with store.locked(target.slug):
            names = catalog.project_names(target)
            for name in names:
                store.put(
                    target.slug, name, render_project(name, catalog.project_files(target, name))
                )
            store.put(target.slug, ROOT_PAGE, render_root(names))
            pages += len(names)
            directory = store.root / target.slug
            for kind in ("html", "json"):
                for stale in directory.glob(f"*.{kind}"):
                    if stale.stem not in names and stale.stem != ROOT_PAGE:
                        stale.unlink(missing_ok=True)
    return pages


def published_page(target: IndexTarget, project: str | None, kind: str) -> CachedPage | None:
    """The page to serve (``project`` None = the project list), rendering it if it was never
    rendered; None when the project has no files for this target."""
    store = page_store()
    name = project or ROOT_PAGE
    page = store.get(target.slug, name, kind)
    if page is not None:
        INDEX_CACHE_HITS.inc()
        return page
    with store.locked(target.slug):
        page = store.get(target.slug, name, kind)  # another request may have rendered it
        if page is not None:
            INDEX_CACHE_HITS.inc()
            return page
        INDEX_CACHE_MISSES.inc()
        if project is None:
            store.put(target.slug, ROOT_PAGE, render_root(catalog.project_names(target)))
        else:
            files = catalog.project_files(target, project)
            if not files:
                return None
            store.put(target.slug, project, render_project(project, files))
    return store.get(target.slug, name, kind)


def yank(artifact: Artifact, reason: str) -> bool:
    """PEP 592 yank: pip skips the file unless pinned exactly. False if already yanked."""
    with transaction.atomic():
        changed = artifact.yank(reason)
        if changed:
            refresh_after_commit(artifact.name)
    return changed


def unyank(artifact: Artifact) -> bool:
    with transaction.atomic():
        changed = artifact.unyank()
        if changed:
            refresh_after_commit(artifact.name)
    return changed
