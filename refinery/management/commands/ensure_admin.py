from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from refinery.lib.env import Env


class Command(BaseCommand):
    help = (
        "Make sure an admin account exists. Credentials come from REFINERY_ADMIN_USER and "
        "REFINERY_ADMIN_PASSWORD (or REFINERY_ADMIN_PASSWORD_FILE); without a password a "
        "random one is generated and printed once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        env = Env()
        try:
            username = env.text("REFINERY_ADMIN_USER", "admin")
            password = env.secret("REFINERY_ADMIN_PASSWORD")
            email = env.text("REFINERY_ADMIN_EMAIL", "")
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is not None:
            if password is not None and not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
                self.stdout.write(f"admin {username!r}: password updated from the environment")
            else:
                self.stdout.write(f"admin {username!r} exists")
            return
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email=email, password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"created admin {username!r} with password {password!r} "
                    "(shown once; set REFINERY_ADMIN_PASSWORD to choose it)"
                )
            )
        else:
            self.stdout.write(f"created admin {username!r} with the password from the environment")
