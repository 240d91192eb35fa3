"""Which wheels a target installs, best first; the ranking is made once per target."""

from __future__ import annotations

from packaging.tags import parse_tag

from inputs.target_env import TargetEnvironment


def _rank(env: TargetEnvironment, tag: str) -> int | None:
    return env.wheel_rank(frozenset(parse_tag(tag)))


def test_a_target_prefers_its_own_platform_wheel_to_a_pure_one_and_refuses_others():
    env = TargetEnvironment("3.11", "manylinux_2_28_s390x")
    native = _rank(env, "cp311-cp311-manylinux_2_17_s390x")
    pure = _rank(env, "py3-none-any")

    assert native is not None
    assert pure is not None
    assert native < pure
    assert _rank(env, "cp311-cp311-manylinux_2_17_x86_64") is None
    assert _rank(env, "cp311-cp311-manylinux_2_34_s390x") is None  # newer glibc than 2.28
    assert _rank(env, "cp312-cp312-manylinux_2_17_s390x") is None


def test_environments_of_one_target_share_one_ranking():
    first = TargetEnvironment("3.11", "manylinux_2_28_s390x")
    second = TargetEnvironment("3.11", "manylinux_2_28_s390x")

    assert first.tag_rank is second.tag_rank
    assert first.tags[0] == next(iter(parse_tag("cp311-cp311-manylinux_2_28_s390x")))
    assert TargetEnvironment("3.12", "manylinux_2_28_s390x").tag_rank is not first.tag_rank
