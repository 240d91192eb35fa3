"""The podman containers a test's builds left: asked of podman, by the job's container prefix
(this refinery's own, so containers of another refinery on the host are never counted)."""

from __future__ import annotations

import subprocess

from django.conf import settings

from builds.images import podman_env
from builds.orphans import container_prefix


def containers_of(*job_ids: int) -> list[str]:
    listed = subprocess.run(
        [settings.PODMAN_BIN, "ps", "-a", "--format", "{{.Names}}"],
        env=podman_env(settings.PODMAN_CONTAINERS_CONF),
        capture_output=True,
        text=True,
        check=True,
    )
    prefixes = tuple(container_prefix(job_id) for job_id in job_ids)
    return [name for name in listed.stdout.split() if name.startswith(prefixes)]
