"""Links to a patient's own token page: unguessable, no login, valid until the end of the token's day.

A link is `<id>.<yyyymmdd>:<signature>` signed with django.core.signing (HMAC-SHA256 of SECRET_KEY, one salt per
kind of token, so a visit's link never opens an OPD token). Nothing is stored: the link is the key, and it reveals
only the token it names. It opens from its signing until the end of `<yyyymmdd>` in the hospital's time zone (the
visit's day; an OPD token's slot day, so a token booked ahead works until its consultation day is over). Rotating
SECRET_KEY (SECRET_KEY_FALLBACKS keeps the old one readable) or changing the day voids every link printed.
"""

import datetime

from django.conf import settings
from django.core import signing
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import quote_etag

SALT = "tokenline.tokenpage."


def sign(kind: str, pk, day: datetime.date) -> str:
    """The link key of the `kind` ("visit" or "opd") object `pk` (int or UUID; a UUID is written as 32 hex
    digits), valid through `day` (hospital time zone), e.g. `17.20261207:Xb3...` (about 60 characters)."""
    ident = pk.hex if hasattr(pk, "hex") else str(pk)
    return signing.Signer(salt=SALT + kind).sign(f"{ident}.{day:%Y%m%d}")


def unsign(kind: str, key: str) -> str | None:
    """The id (as text) the `kind` link key `key` names, or None when the key is forged, of another kind, malformed
    or past the end of its day (hospital time zone). Never raises."""
    try:
        ident, day = signing.Signer(salt=SALT + kind).unsign(key).rsplit(".", 1)
        last_day = datetime.datetime.strptime(day, "%Y%m%d").date()
    except (signing.BadSignature, ValueError):
        return None
    return ident if timezone.localdate() <= last_day else None


def absolute(request, path: str) -> str:
    """`path` as a full URL for a slip's QR: under TOKEN_PAGE_BASE_URL when set (the address phones on the
    hospital Wi-Fi reach, e.g. `http://10.0.0.5:8000`), else under the host the desk's browser used."""
    base = settings.TOKEN_PAGE_BASE_URL.rstrip("/")
    return f"{base}{path}" if base else request.build_absolute_uri(path)


def gone(request):
    """The 404 answer to a forged or expired link: a small page in the patient's language saying to ask at the
    desk (never the staff's error page, never which of the two it was)."""
    return render(request, "token_page_gone.html", status=404)


def page(request, *, panel_template: str, panel_url: str, etag: str, context: dict):
    """A token page (templates/token_page.html): `panel_template` rendered with `context` inside the page, which
    asks `panel_url` for it again every few seconds (static/js/follow.js) sending `etag` (the panel's ETag, unquoted,
    read before `context` so a change in between is not missed) until a newer one answers."""
    return render(request, "token_page.html", {
        **context, "panel_template": panel_template, "panel_url": panel_url, "panel_etag": quote_etag(etag),
    })
