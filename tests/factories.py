"""factory_boy factories for the domain models."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import factory
from django.utils import timezone

from builds.models import Artifact, BuildJob
from builds.runners.base import BuildSpec
from hints.models import Hint
from inputs.models import PendingInput
from plans.models import Plan, PlanInput, Target


class TargetFactory(factory.django.DjangoModelFactory[Target]):
    class Meta:
        model = Target
        django_get_or_create = ("python_version", "platform_tag")

    python_version = "3.11"
    platform_tag = "manylinux_2_17_x86_64"


class PendingInputFactory(factory.django.DjangoModelFactory[PendingInput]):
    class Meta:
        model = PendingInput

    kind = PendingInput.Kind.REQUIREMENTS
    original_filename = factory.Sequence(lambda n: f"requirements-{n}.txt")
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"input {n}".encode()).hexdigest())
    size = 42
    storage_key = factory.LazyAttribute(lambda o: f"inputs/{o.sha256}")
    parsed = factory.LazyFunction(lambda: {"requirements": ["six==1.16.0"]})
    python_version = "3.11"
    platform_tag = "manylinux_2_17_x86_64"
    status = PendingInput.Status.PENDING


def dag(*nodes: tuple[str, str, str]) -> dict[str, object]:
    """``dag(("six", "1.16.0", "build"), ...)`` -> a plan DAG with those nodes and no edges."""
    return {
        "nodes": [{"name": n, "version": v, "action": a, "source": {}} for n, v, a in nodes],
        "edges": [],
    }


class PlanFactory(factory.django.DjangoModelFactory[Plan]):
    class Meta:
        model = Plan

    target = factory.SubFactory(TargetFactory)
    strategy = Plan.Strategy.PINNED
    dag = factory.LazyFunction(
        lambda: dag(("markupsafe", "2.1.5", "build"), ("six", "1.16.0", "reuse"))
    )


class PlanInputFactory(factory.django.DjangoModelFactory[PlanInput]):
    class Meta:
        model = PlanInput

    plan = factory.SubFactory(PlanFactory)
    input = factory.SubFactory(PendingInputFactory, status=PendingInput.Status.PLANNED)
    version = 1


class BuildJobFactory(factory.django.DjangoModelFactory[BuildJob]):
    """A job in any status; leased/building jobs get a live lease so constraints hold."""

    class Meta:
        model = BuildJob

    name = factory.Sequence(lambda n: f"package-{n}")
    version = "1.0"
    target = factory.SubFactory(TargetFactory)
    status = BuildJob.Status.PENDING
    enqueued_at = factory.LazyFunction(timezone.now)
    next_attempt_at = factory.LazyAttribute(lambda o: o.enqueued_at)
    lease_owner = factory.LazyAttribute(
        lambda o: "worker-0" if o.status in BuildJob.LEASED_STATUSES else ""
    )
    lease_expires_at = factory.LazyAttribute(
        lambda o: (
            timezone.now() + timedelta(minutes=5) if o.status in BuildJob.LEASED_STATUSES else None
        )
    )
    attempts = factory.LazyAttribute(lambda o: 1 if o.status in BuildJob.LEASED_STATUSES else 0)


class HintFactory(factory.django.DjangoModelFactory[Hint]):
    class Meta:
        model = Hint

    name = factory.Sequence(lambda n: f"hint-{n}")
    pattern = r"fatal error: ffi\.h: No such file"
    recipes = factory.LazyFunction(
        lambda: [{"type": "system_packages", "packages": ["libffi-dev"]}]
    )


class ArtifactFactory(factory.django.DjangoModelFactory[Artifact]):
    """A wheel already in our store (the bytes are not written; tests of storage do that)."""

    class Meta:
        model = Artifact

    target = factory.SubFactory(TargetFactory)
    origin = Artifact.Origin.REUSED
    name = factory.Sequence(lambda n: f"package-{n}")
    version = "1.0"
    filename = factory.LazyAttribute(
        lambda o: f"{o.name.replace('-', '_')}-{o.version}-py3-none-any.whl"
    )
    sha256 = factory.Sequence(lambda n: hashlib.sha256(f"wheel {n}".encode()).hexdigest())
    size = 1234
    tags = factory.LazyFunction(lambda: ["py3-none-any"])
    core_metadata = factory.LazyAttribute(
        lambda o: f"Metadata-Version: 2.1\nName: {o.name}\nVersion: {o.version}\n"
    )
    metadata_sha256 = factory.LazyAttribute(
        lambda o: hashlib.sha256(o.core_metadata.encode()).hexdigest()
    )
    storage_key = factory.LazyAttribute(
        lambda o: f"cas/sha256/{o.sha256[:2]}/{o.sha256[2:4]}/{o.sha256}"
    )
    uploaded_at = factory.LazyFunction(timezone.now)


class BuildSpecFactory(factory.Factory[BuildSpec]):
    """What a runner is handed for one job (no database row behind it)."""

    class Meta:
        model = BuildSpec

    job_id = factory.Sequence(lambda n: n + 1)
    name = "six"
    version = "1.16.0"
    python_tag = "cp311"
    platform_tag = "manylinux_2_17_x86_64"
    sdist_url = factory.LazyAttribute(lambda spec: f"https://files.example/{spec.name}.tar.gz")
    sdist_sha256 = "0" * 64
