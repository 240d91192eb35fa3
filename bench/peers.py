"""The peers benchmarks measure the refinery against, run the same way by every script."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from builds.images import image_exists, image_name, podman_env
from builds.models import BuilderImage

AMD64_IMAGE = image_name("debian-bookworm", "amd64")


def amd64_builder() -> str:
    """The scratch database migrated and the amd64 builder image recorded; its name."""
    if not image_exists(AMD64_IMAGE):
        raise SystemExit(f"{AMD64_IMAGE} is missing: run `make images`")
    call_command("migrate", verbosity=0)
    BuilderImage.objects.update_or_create(
        preset="debian-bookworm", arch="amd64", defaults={"image": AMD64_IMAGE}
    )
    return AMD64_IMAGE


def bare_pip_wheel(node: dict[str, object], scratch: Path, image: str = AMD64_IMAGE) -> float:
    """Seconds for a bare ``podman run <image> pip wheel --no-deps <the node's sdist>``: no
    sandbox, no queue, no checks, no pip cache; the builds' network and CA bundle as ours."""
    source = node["source"]
    assert isinstance(source, dict)
    out = Path(tempfile.mkdtemp(prefix="bare-", dir=scratch))
    argv = [settings.PODMAN_BIN, "run", "--rm", "--network", settings.RUNNER_NETWORK]
    argv += ["-v", f"{out}:/output", "-e", "PIP_NO_CACHE_DIR=1"]
    if settings.RUNNER_CA_BUNDLE:
        argv += ["-v", f"{settings.RUNNER_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro"]
        argv += ["-e", "PIP_CERT=/etc/ssl/certs/ca-certificates.crt"]
    argv += [image, "python3", "-m", "pip", "wheel", "--no-deps", "--use-pep517"]
    argv += ["-w", "/output", str(source["url"])]
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=podman_env())
    elapsed = time.perf_counter() - started
    if not list(out.glob("*.whl")):
        raise SystemExit("the bare build produced no wheel")
    return elapsed
