"""A claimed job travels to a remote worker as JSON and comes back as the same job; a claim
that arrives half-formed or hostile is refused with the field it got wrong, before anything
is built from it."""

from __future__ import annotations

import pytest

from builds.claims import ClaimFormatError, claim_from_json, claim_to_json
from builds.worker import ClaimedJob
from tests.factories import BuildSpecFactory


def _claim() -> ClaimedJob:
    spec = BuildSpecFactory(
        job_id=7,
        recipes=[{"type": "env", "vars": {"CFLAGS": "-O2"}}],
        index_urls=["https://pypi.org/simple/"],
        source_date_epoch=1700000000,
    )
    return ClaimedJob(
        id=7,
        attempt=2,
        spec=spec,
        target_python="3.11",
        target_platform="manylinux_2_17_s390x",
        build_requires=["setuptools==80.9.0"],
    )


def test_a_claim_read_back_is_the_job_that_was_sent():
    job = _claim()
    assert claim_from_json(claim_to_json(job)) == job


def test_the_payload_is_one_flat_object_a_worker_in_any_language_can_read():
    payload = claim_to_json(_claim())
    assert payload["id"] == 7
    assert payload["name"] == "six"
    assert payload["sdist_sha256"] == "0" * 64
    assert payload["build_requires"] == ["setuptools==80.9.0"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("sdist_sha256", "abc", "claimed job 7: sdist_sha256: not a sha256"),
        ("sdist_url", "file:///etc/passwd", "claimed job 7: sdist_url: not an http(s) URL"),
        ("name", "six; rm -rf /", "claimed job 7: name: "),
        ("version", "1.0 && id", "claimed job 7: version: "),
        ("recipes", [{"type": "shell", "run": "id"}], "claimed job 7: recipes: "),
        ("attempt", True, "claimed job 7: attempt: "),
        ("index_urls", "https://pypi.org/simple/", "claimed job 7: index_urls: "),
    ],
)
def test_a_claim_with_a_bad_field_is_refused_naming_it(field, value, message):
    payload = {**claim_to_json(_claim()), field: value}
    with pytest.raises(ClaimFormatError) as refused:
        claim_from_json(payload)
    assert str(refused.value).startswith(message)


def test_a_claim_missing_a_field_is_refused_naming_it():
    payload = claim_to_json(_claim())
    del payload["sdist_sha256"]
    with pytest.raises(ClaimFormatError, match="sdist_sha256: This field is required"):
        claim_from_json(payload)


def test_a_claim_that_is_not_an_object_is_refused():
    with pytest.raises(ClaimFormatError, match="not an object"):
        claim_from_json(["id", 7])
