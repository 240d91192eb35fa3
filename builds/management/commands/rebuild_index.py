from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from builds.index.publishing import rebuild_all


class Command(BaseCommand):
    help = (
        "Re-render every simple page of every index from the store (after restoring a backup "
        "or moving INDEX_PAGES_DIR); pages of projects no longer stored are removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        pages = rebuild_all()
        self.stdout.write(f"rendered {pages} project page(s)")
