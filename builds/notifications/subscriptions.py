"""Subscriptions: the rules a new or changed one must meet (the API and the admin check
the same), and the operator's actions on subscriptions and deliveries."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from packaging.utils import canonicalize_name

from builds.index.catalog import IndexTarget, parse_slug
from builds.models import Delivery, Subscription
from builds.notifications import event_types
from builds.notifications.destinations import DestinationError, resolve
from builds.notifications.outbox import start_senders
from builds.notifications.secrets import SecretError, generate, key_of
from plans.models import Target
from plans.targets import target_row

_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


class SubscriptionError(ValueError):
    """A field of a subscription that is not acceptable: ``field`` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def clean_events(kind: str, events: object) -> list[str]:
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise SubscriptionError(
            "events", f"a non-empty list of event types: {', '.join(event_types.ALL)}"
        )
    unknown = [e for e in events if e not in event_types.ALL]
    if unknown:
        raise SubscriptionError(
            "events", f"unknown event type {unknown[0]!r}; known: {', '.join(event_types.ALL)}"
        )
    if kind == Subscription.Kind.EMAIL:
        per_job = [e for e in events if e not in event_types.EMAIL]
        if per_job:
            raise SubscriptionError(
                "events",
                f"{per_job[0]} is not sent by email (one email per input outcome, not one per "
                f"job); email takes {', '.join(event_types.EMAIL)}",
            )
    return sorted(set(events), key=event_types.ALL.index)


def clean_url(url: str) -> str:
    try:
        resolve(url)
    except DestinationError as exc:
        raise SubscriptionError("url", str(exc)) from None
    return url


def clean_secret(secret: str) -> str:
    if not secret:
        return generate()
    try:
        key_of(secret)
    except SecretError as exc:
        raise SubscriptionError("secret", str(exc)) from None
    return secret


def clean_package(package: str) -> str:
    package = package.strip()
    if not package:
        return ""
    if len(package) > 200 or not _NAME.fullmatch(package):
        raise SubscriptionError("package", f"{package[:100]!r} is not a project name")
    return canonicalize_name(package)


def check_target(slug: str) -> IndexTarget:
    target = parse_slug(slug)
    if target is None:
        raise SubscriptionError(
            "target", f"{slug[:100]!r} is not a target like cp311-manylinux_2_17_s390x"
        )
    return target


def target_for(slug: str) -> Target:
    target = check_target(slug)
    return target_row(target.python_version, target.platform_tag)


def check_destination(kind: str, url: str, secret: str, email: str) -> tuple[str, str, str]:
    """``(url, secret, email)`` fit for ``kind``; the secret made when none is given."""
    if kind == Subscription.Kind.WEBHOOK:
        if not url:
            raise SubscriptionError("url", "a webhook needs a url")
        if email:
            raise SubscriptionError("email", "a webhook takes a url, not an email address")
        secret = clean_secret(secret)
        return clean_url(url), secret, ""  # the lookup last: the cheap checks speak first
    if kind == Subscription.Kind.EMAIL:
        if not email:
            raise SubscriptionError("email", "an email subscription needs an address")
        if url or secret:
            raise SubscriptionError("url", "an email subscription takes an address, not a url")
        return "", "", email
    raise SubscriptionError("kind", f"{kind!r} is not webhook or email")


def enable(subscription: Subscription) -> None:
    """Back on after being disabled: the failure count starts over."""
    Subscription.objects.filter(pk=subscription.pk).update(
        active=True, consecutive_failures=0, disabled_at=None, disabled_reason=""
    )
    subscription.refresh_from_db()


def redeliver(deliveries: Sequence[Delivery]) -> int:
    """Send these again now (the same webhook-id, so a receiver can tell it saw it)."""
    inactive = [d for d in deliveries if not d.subscription.active]
    if inactive:
        raise SubscriptionError(
            "subscription",
            f"subscription {inactive[0].subscription_id} is disabled; enable it first",
        )
    ids = [d.pk for d in deliveries]
    with transaction.atomic():
        Delivery.objects.filter(pk__in=ids).update(
            status=Delivery.Status.PENDING, next_attempt_at=timezone.now()
        )
        subscription_ids = sorted({d.subscription_id for d in deliveries})
        transaction.on_commit(lambda: start_senders(subscription_ids))
    return len(ids)
