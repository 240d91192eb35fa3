"""Deliver a subscription's due notifications, in order, one sender at a time.

Each attempt is logged (status code, latency, error, an excerpt of the answer). A 2xx is
delivered; 410 Gone disables the subscription; anything else (3xx included: redirects are
not followed) is retried with exponential backoff, honouring ``Retry-After``, until
``WEBHOOK_MAX_ATTEMPTS``, through a django-q2 schedule. ``WEBHOOK_DISABLE_AFTER`` failed
attempts in a row disable the subscription, with the reason on it and in the log.
"""

from __future__ import annotations

import json
import logging
import smtplib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import schedule
from standardwebhooks.webhooks import Webhook

from builds.models import Delivery, DeliveryAttempt, Subscription
from builds.notifications import emails
from builds.notifications.destinations import DestinationError, DestinationRefused, resolve
from refinery.lib.backoff import retry_delay
from refinery.lib.metrics import DELIVERIES
from refinery.lib.numbers import natural_number

logger = logging.getLogger(__name__)

TASK = "builds.notifications.tasks.send_due"
_LEASE = timedelta(seconds=max(60, 4 * 15))
_EXCERPT = 1000
_USER_AGENT = "wheel-refinery-webhooks/1"
Status = Delivery.Status


@dataclass
class Outcome:
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    retry_after: float | None = None
    gone: bool = False
    final: bool = False  # retrying cannot help (a refused destination)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        # Email has no status code: sent is when the backend took it without an error.
        return not self.error and (self.status_code is None or 200 <= self.status_code < 300)


def send_due(subscription_id: int) -> int:
    """Send what is due for one subscription; the number of attempts made."""
    made = 0
    while _take_lease(subscription_id):
        try:
            made += _send_all(subscription_id)
        finally:
            Subscription.objects.filter(pk=subscription_id).update(sender_lease_until=None)
        # A delivery recorded while we held the lease found it taken: look once more.
        if not _due(subscription_id).exists():
            break
    return made


def send_all_due() -> int:
    """Every subscription's due deliveries, here and now (``manage.py refine`` runs without
    a cluster: what it did is told before it exits)."""
    ids = (
        Delivery.objects.filter(
            status__in=(Status.PENDING, Status.RETRYING), next_attempt_at__lte=timezone.now()
        )
        .order_by()
        .values_list("subscription_id", flat=True)
        .distinct()
    )
    return sum(send_due(subscription_id) for subscription_id in sorted(set(ids)))


def _take_lease(subscription_id: int) -> bool:
    now = timezone.now()
    return bool(
        Subscription.objects.filter(pk=subscription_id)
        .filter(Q(sender_lease_until__isnull=True) | Q(sender_lease_until__lt=now))
        .update(sender_lease_until=now + _LEASE)
    )


def _due(subscription_id: int) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        subscription_id=subscription_id,
        status__in=(Status.PENDING, Status.RETRYING),
        next_attempt_at__lte=timezone.now(),
    ).order_by("id")


def _send_all(subscription_id: int) -> int:
    made = 0
    while True:
        batch = list(_due(subscription_id).select_related("notification", "subscription")[:50])
        if not batch:
            return made
        for delivery in batch:
            Subscription.objects.filter(pk=subscription_id).update(
                sender_lease_until=timezone.now() + _LEASE
            )
            subscription = Subscription.objects.get(pk=subscription_id)
            if not subscription.active:
                _give_up_all(subscription)
                return made
            delivery.subscription = subscription
            attempt(delivery)
            made += 1


def _give_up_all(subscription: Subscription) -> None:
    Delivery.objects.filter(
        subscription=subscription, status__in=(Status.PENDING, Status.RETRYING)
    ).update(
        status=Status.GIVEN_UP, last_error=f"subscription disabled: {subscription.disabled_reason}"
    )


def attempt(delivery: Delivery) -> Delivery:
    """One try at ``delivery``, logged, and what follows from it."""
    subscription = delivery.subscription
    started = timezone.now()
    clock = time.monotonic()
    if subscription.kind == Subscription.Kind.WEBHOOK:
        outcome = _post(delivery, started)
    else:
        outcome = _mail(delivery)
    latency_ms = round((time.monotonic() - clock) * 1000)
    number = delivery.attempts + 1
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=number,
        started_at=started,
        status_code=outcome.status_code,
        latency_ms=latency_ms,
        error=outcome.error,
        response_excerpt=outcome.excerpt,
        request_headers=outcome.headers,
    )
    delivery.attempts = number
    delivery.last_status_code = outcome.status_code
    delivery.last_latency_ms = latency_ms
    delivery.last_error = outcome.error
    if outcome.ok:
        delivery.status = Status.DELIVERED
        delivery.delivered_at = timezone.now()
        Subscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
        DELIVERIES.labels(subscription.kind, "delivered").inc()
    else:
        _failed(delivery, subscription, outcome)
    delivery.save()
    return delivery


def _failed(delivery: Delivery, subscription: Subscription, outcome: Outcome) -> None:
    now = timezone.now()
    if outcome.gone:
        _disable(subscription, f"the receiver answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC")
    Subscription.objects.filter(pk=subscription.pk).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    failures = Subscription.objects.values_list("consecutive_failures", flat=True).get(
        pk=subscription.pk
    )
    if failures >= settings.WEBHOOK_DISABLE_AFTER and subscription.active:
        _disable(
            subscription,
            f"{failures} failed attempts in a row; the last: {delivery.last_error or 'HTTP '}"
            f"{'' if delivery.last_error else delivery.last_status_code}",
        )
    if outcome.gone or outcome.final or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = Status.GIVEN_UP
        DELIVERIES.labels(subscription.kind, "given_up").inc()
        return
    delay = retry_delay(
        delivery.attempts,
        base_seconds=settings.WEBHOOK_RETRY_BASE_SEC,
        max_seconds=settings.WEBHOOK_RETRY_MAX_SEC,
    )
    if outcome.retry_after is not None:
        wait = min(outcome.retry_after, settings.WEBHOOK_RETRY_MAX_SEC)
        delay = max(delay, timedelta(seconds=wait))
    delivery.status = Status.RETRYING
    delivery.next_attempt_at = now + delay
    DELIVERIES.labels(subscription.kind, "failed").inc()
    schedule_sender(subscription.pk, delivery.next_attempt_at)


def schedule_sender(subscription_id: int, when: datetime) -> None:
    """The cluster's scheduler runs the sender at ``when`` (or within 30 s after)."""
    args = repr((subscription_id,))
    if Schedule.objects.filter(func=TASK, args=args, next_run__lte=when).exists():
        return  # an earlier run will find this delivery due, or schedule again
    schedule(TASK, subscription_id, schedule_type=Schedule.ONCE, next_run=when)


def _disable(subscription: Subscription, reason: str) -> None:
    updated = Subscription.objects.filter(pk=subscription.pk, active=True).update(
        active=False, disabled_at=timezone.now(), disabled_reason=reason
    )
    if updated:
        subscription.active = False
        logger.warning("subscription %s (%s) disabled: %s", subscription.pk, subscription, reason)


def signed_headers(delivery: Delivery, body: str, at: datetime) -> dict[str, str]:
    """Standard Webhooks: ``webhook-id`` stays the same on every retry; the signature is
    over ``id.timestamp.body`` with the secret's decoded key."""
    message_id = delivery.notification.message_id
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(delivery.subscription.secret).sign(message_id, at, body),
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
    }


def _post(delivery: Delivery, at: datetime) -> Outcome:
    body = json.dumps(delivery.notification.payload, separators=(",", ":"))
    headers = signed_headers(delivery, body, at)
    try:
        destination = resolve(delivery.subscription.url)
    except DestinationError as exc:
        final = isinstance(exc, DestinationRefused)
        return Outcome(error=f"destination refused: {exc}", final=final, headers=headers)
    extensions = {"sni_hostname": destination.host} if destination.url.startswith("https") else {}
    try:
        with httpx.Client(
            timeout=settings.WEBHOOK_TIMEOUT_SEC, follow_redirects=False, trust_env=False
        ) as client:
            response = client.post(
                destination.pinned_url,
                content=body.encode(),
                headers={**headers, "host": destination.host_header},
                extensions=extensions,
            )
    except httpx.HTTPError as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500], headers=headers)
    outcome = Outcome(
        status_code=response.status_code,
        excerpt=response.text[:_EXCERPT],
        gone=response.status_code == 410,
        headers=headers,
    )
    if not 200 <= response.status_code < 300:
        outcome.error = f"HTTP {response.status_code}"
        outcome.retry_after = _retry_after(response.headers.get("retry-after"))
    return outcome


def _retry_after(value: str | None) -> float | None:
    if value is None or natural_number(value.strip()) is None:
        return None  # an HTTP date is rare from webhook receivers; the backoff applies
    return float(value.strip())


def _mail(delivery: Delivery) -> Outcome:
    payload = delivery.notification.payload
    try:
        send_mail(
            emails.subject(payload),
            emails.body(payload),
            settings.DEFAULT_FROM_EMAIL,
            [delivery.subscription.email],
        )
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}"[:500])
    return Outcome()
