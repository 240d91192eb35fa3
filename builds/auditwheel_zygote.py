"""``python -m builds.auditwheel_zygote``: a helper that has auditwheel imported and forks a
child per repair. Requests and answers are JSON lines on its stdin and stdout:
``{"argv": [...], "output": FILE, "path": PATH}`` -> ``{"code": N}``. It exits when its
stdin closes (the worker that started it is gone). No Django here: it must start fast.
"""

from __future__ import annotations

import json
import os
import sys

import auditwheel.main  # type: ignore[import-untyped]  # the point: imported once, here


def _repair(argv: list[str], output: str, path: str) -> int:
    """In the forked child: auditwheel's command line, its output into ``output``."""
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.environ["PATH"] = path
    sys.argv = ["auditwheel", *argv]
    try:
        return int(auditwheel.main.main() or 0)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:  # auditwheel's own failure: said on its output, as the CLI does
        print(f"auditwheel: error: {exc}", file=sys.stderr)
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    for line in sys.stdin:
        request = json.loads(line)
        child = os.fork()
        if child == 0:
            os._exit(_repair(request["argv"], request["output"], request["path"]))
        _, status = os.waitpid(child, 0)
        code = os.waitstatus_to_exitcode(status)
        answers.write(json.dumps({"code": code}) + "\n")


if __name__ == "__main__":
    main()
