from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django_q.models import OrmQ
from django_q.signing import SignedPackage


@pytest.fixture
def storage_dir(settings, tmp_path: Path) -> Path:
    """Filesystem storage in a fresh folder, so a test can see exactly what was stored."""
    root = tmp_path / "storage"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root},
        },
    }
    return root


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def queued_tasks() -> list[dict[str, Any]]:
    """Tasks waiting in the django-q2 ORM broker: what the cluster would run next."""
    return [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("id")]
