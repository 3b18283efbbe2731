"""Where notifications go: an SMS gateway spoken to over HTTP, and a signed webhook. Each adapter is on
when its URL setting is set (config/settings.py, NOTIFY_*). The display board is not one of them: it polls the
database (queues) and keeps working whatever happens here.

An attempt's outcome decides what the worker does next (notifications/delivery.py):
- delivered: a 2xx answer.
- retry later: the request never reached the receiver (connection refused, name not found, connect timeout) or the
  receiver answered that it could not take it now (HTTP 5xx, 429).
- failed for good: any other answer (4xx: the request itself is wrong), a URL setting that is no URL, or the
  request went out and no complete answer came back (read timeout, connection dropped): the message may have
  arrived, and sending it again could text the patient twice, so it is not retried (at most once per row).
"""

import hashlib
import hmac
import http.client
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings

from notifications import messages
from notifications.models import Notification


@dataclass(frozen=True)
class Outcome:
    """One attempt's result: `delivered`, else whether to `retry` and the `error` shown in the admin."""

    delivered: bool
    retry: bool = False
    error: str = ""


class Sms:
    """A text message through a generic HTTP gateway: NOTIFY_SMS_METHOD to NOTIFY_SMS_URL, a template whose
    {phone} {message} {username} {password} are filled in URL-encoded (credentials from the environment)."""

    name = "sms"
    reaches_patient = True  # the patient's opt-out and phone number decide whether a row is written

    @staticmethod
    def configured() -> bool:
        return bool(settings.NOTIFY_SMS_URL)

    @staticmethod
    def send(notification: Notification) -> Outcome:
        values = {
            "phone": international(notification.patient.phone),
            "message": render(notification),
            "username": settings.NOTIFY_SMS_USERNAME,
            "password": settings.NOTIFY_SMS_PASSWORD,
        }
        url = settings.NOTIFY_SMS_URL.format(**{key: quote(value, safe="") for key, value in values.items()})
        return http_send(urllib.request.Request(url, method=settings.NOTIFY_SMS_METHOD.upper()))


class Webhook:
    """A JSON POST to NOTIFY_WEBHOOK_URL for the hospital's other systems, signed with NOTIFY_WEBHOOK_SECRET:
    `X-Tokenline-Signature: sha256=<hex HMAC-SHA256 of the body>`. `X-Tokenline-Delivery` is the row's id, the
    same on every attempt, so a receiver can tell a retry from a new event."""

    name = "webhook"
    reaches_patient = False  # goes to hospital systems: written whatever the patient's SMS wishes

    @staticmethod
    def configured() -> bool:
        return bool(settings.NOTIFY_WEBHOOK_URL)

    @staticmethod
    def send(notification: Notification) -> Outcome:
        body = json.dumps(payload(notification), ensure_ascii=False).encode()
        request = urllib.request.Request(
            settings.NOTIFY_WEBHOOK_URL,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Tokenline-Signature": "sha256=" + signature(body),
                "X-Tokenline-Delivery": str(notification.pk),
                "X-Tokenline-Event": notification.kind,
            },
        )
        return http_send(request)


ADAPTERS = {adapter.name: adapter for adapter in (Sms, Webhook)}


def enabled() -> list:
    """The adapters configured in settings, in a fixed order."""
    return [adapter for adapter in ADAPTERS.values() if adapter.configured()]


def render(notification: Notification) -> str:
    """The patient's message for `notification` (notifications/messages.py) in its language."""
    return messages.render(
        kind=notification.kind, language=notification.language, number=notification.number,
        room=notification.room, extra=notification.extra,
    )


def payload(notification: Notification) -> dict:
    """The webhook's JSON body."""
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "number": notification.number,
        "room": notification.room,
        "patient": {"id": notification.patient_id, "mrn": notification.patient.mrn},
        "language": notification.language,
        "message": render(notification),
        "extra": notification.extra,
        "created_at": notification.created_at.isoformat(),
    }


def signature(body: bytes) -> str:
    """Hex HMAC-SHA256 of `body` with NOTIFY_WEBHOOK_SECRET: what a receiver recomputes to trust a delivery."""
    return hmac.new(settings.NOTIFY_WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def international(phone: str) -> str:
    """A phone as gateways want it: digits only, a leading 0 replaced by NOTIFY_SMS_COUNTRY_CODE
    (`0300-1234567` -> `923001234567`; `+92 300 1234567` -> `923001234567`)."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("0") and not digits.startswith("00"):
        return settings.NOTIFY_SMS_COUNTRY_CODE + digits[1:]
    return digits.removeprefix("00")


def http_send(request: urllib.request.Request) -> Outcome:
    """Send `request` with the timeout NOTIFY_TIMEOUT_SECONDS and classify the result (see the module docstring).

    Messages never include the URL, which may carry the gateway's credentials.
    """
    try:
        with urllib.request.urlopen(request, timeout=settings.NOTIFY_TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        return Outcome(delivered=False, retry=exc.code >= 500 or exc.code == 429, error=f"HTTP {exc.code}")
    except urllib.error.URLError as exc:  # raised by urllib before any answer was read: not sent
        return Outcome(delivered=False, retry=True, error=f"Could not reach the receiver: {exc.reason}")
    except (ValueError, http.client.InvalidURL) as exc:  # the URL setting cannot be a URL: nothing was sent
        return Outcome(delivered=False, error=f"The URL setting is not a valid URL ({exc.__class__.__name__}).")
    except (OSError, http.client.HTTPException) as exc:  # sent; the answer timed out or broke off
        return Outcome(
            delivered=False,
            error=f"No complete answer ({exc.__class__.__name__}); it may have arrived, so it is not sent again "
                  "(at most once). Send it again from the admin if the receiver did not get it.",
        )
    return Outcome(delivered=True)
