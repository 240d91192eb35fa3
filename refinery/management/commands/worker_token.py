from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refinery.models import WorkerToken
from refinery.worker_tokens import WorkerTokenError, create_worker_token, revoke_worker_token


class Command(BaseCommand):
    help = (
        "Worker tokens: `create NAME` prints a new token once (the worker sends it as "
        "X-Worker-Token; its leases are held as NAME/…), `list` shows them, `revoke NAME` "
        "refuses it from now on."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["create", "list", "revoke"])
        parser.add_argument("name", nargs="?", help="the worker's name, e.g. s390x-1")

    def handle(self, *args: Any, **options: Any) -> None:
        action, name = options["action"], options["name"]
        if action == "list":
            for token in WorkerToken.objects.all():
                used = token.last_used_at.isoformat() if token.last_used_at else "never used"
                state = "revoked" if token.revoked else "active"
                self.stdout.write(f"{token.name}\t{state}\t{used}")
            return
        if not name:
            raise CommandError(f"{action} needs the worker's NAME")
        if action == "create":
            try:
                key = create_worker_token(name)
            except WorkerTokenError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(key)
            self.stderr.write(f"worker token {name!r} created; it is shown only this once")
        elif not revoke_worker_token(name):
            raise CommandError(f"no active worker token named {name!r}")
        else:
            self.stdout.write(f"worker token {name!r} revoked")
