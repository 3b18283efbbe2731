"""The offline registration page: a lab terminal (or any desk an admin lists in a terminal's `browser_users`)
registering patients in the browser with the network gone.

The page speaks the command-line client's protocol (terminals/client.py) through the same API: it leases a block
bound to its device identity (kept in the browser's IndexedDB), numbers registrations from it offline, keeps them in
an IndexedDB outbox with their `client_uuid` and `registered_at`, and syncs them in batches to
`/api/v1/terminals/{code}/sync/` (static/js/offline.js). A service worker served from `/offline/` keeps the page,
its script, styles, the Nastaliq font and the slip layout, so the page opens again after a reload without network.
"""

import hashlib
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxLengthValidator, RegexValidator
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from patients import slips
from patients.models import Patient
from patients.validators import EARLIEST_DOB
from terminals import services
from terminals.models import LabTerminal

# The form's fields, in order; the rest of the demographics are filled in online (correct the patient).
FORM_FIELDS = ("full_name", "father_name", "dob", "sex", "phone", "cnic")
# What the service worker keeps for the page to open offline: its script, styles, font and the slip's layout.
CACHED_STATIC = ("js/offline.js", "js/keys.js", "css/tokenline.css", "css/urdu-font.css", "css/slip.css", "css/offline.css",
                 "fonts/noto-nastaliq-urdu-arabic-400-normal.woff2",
                 "fonts/noto-nastaliq-urdu-arabic-700-normal.woff2", "favicon.svg")


def field_rules() -> dict:
    """The checks the page runs offline, read from the Patient model's own fields (the definitions the server
    validates a sync with), so page and server cannot drift apart.

    Returns {field: {"label", "required", "max_length" (or None), "pattern" and "message" (a RegexValidator's, or
    None), "choices" ([[value, label], ...] or None), "min" (a date field's earliest value)}}. Rules written as Python
    functions (the phone's digit count) are not exported: the server refuses such a value on sync and the page
    shows it with a form to fix and resend.
    """
    rules = {}
    for name in FORM_FIELDS:
        field = Patient._meta.get_field(name)
        pattern = message = None
        for validator in field.validators:
            if isinstance(validator, RegexValidator) and not validator.inverse_match:
                pattern, message = validator.regex.pattern, str(validator.message)
        max_length = next((v.limit_value for v in field.validators if isinstance(v, MaxLengthValidator)), None)
        rules[name] = {
            "label": capfirst(str(field.verbose_name)),
            "required": not field.blank, "max_length": max_length, "pattern": pattern, "message": message,
            "choices": [[value, str(label)] for value, label in field.choices] if field.choices else None,
            "min": EARLIEST_DOB.isoformat() if name == "dob" else None,
        }
    return rules


def terminal_for_page(request, code: str) -> LabTerminal:
    """The active terminal `code` whose offline page `request.user` may run (listed in its `browser_users`).
    Raises Http404 for no such terminal, PermissionDenied (403) when the user is not listed."""
    terminal = get_object_or_404(LabTerminal, code=code, is_active=True)
    if not services.may_run_in_browser(terminal=terminal, user=request.user):
        raise PermissionDenied(_("You are not listed to register offline as terminal %(code)s; an administrator "
                                 "adds you to its browser users.") % {"code": code})
    return terminal


@login_required
def offline_page(request, code):
    """`/offline/{code}/`: the offline registration page of terminal `code` (see the module docstring)."""
    terminal = terminal_for_page(request, code)
    get_token(request)  # the CSRF cookie the page's API calls send back
    config = {
        "terminal": terminal.code,
        # A block of TOKENLINE_BROWSER_LEASE numbers, and a new one while online once the numbers left fall to
        # 100 - WARNING_PERCENT % of it (the level at which a terminal's range warns: seed 001's 80 %).
        "lease_size": settings.TOKENLINE_BROWSER_LEASE,
        "top_up_at": settings.TOKENLINE_BROWSER_LEASE * (100 - services.WARNING_PERCENT) // 100,
        "scheme": settings.TOKENLINE_MRN_SCHEME,
        "api": {"leases": reverse("terminal-leases", args=[terminal.code]),
                "sync": reverse("terminal-sync", args=[terminal.code])},
        "service_worker": reverse("terminals:service-worker"),
        "page": request.path,
        "rules": field_rules(),
    }
    return render(request, "terminals/offline.html", {"terminal": terminal, "config": config, "texts": page_texts(),
                                                      "slip_size": slips.PAPERS[slips.THERMAL]})


def page_texts() -> dict:
    """The page script's messages, translated here (the script runs offline, with no catalogue to ask)."""
    return {
        "online": _("online"), "offline": _("offline"), "unreachable": _("server unreachable"),
        "never": _("never"),
        "no_number": _("No leased number left: this page cannot number offline. Register when the network is back "
                       "(or at a desk that is online)."),
        "lease_stopped": _("A lease was stopped by the server (on hold, or its numbers already printed elsewhere); "
                           "the page leases a new block when online."),
        "login": _("The server refused this page's request (log in again?): %(detail)s"),
        "required": _("This field is required."),
        "too_long": _("At most %(n)s characters."),
        "bad_choice": _("Choose one of the options."),
        "bad_date": _("Enter a date from %(min)s to today."),
        "registered": _("Registered offline: MRN %(mrn)s (slip printed)."),
        "fix": _("Fix and resend"),
        "held": _("Held in an offline incident: ops give this patient a new MRN; the page then shows it to reprint."),
        "reprint": _("The slip printed as %(printed)s now has MRN %(mrn)s: reprint it."),
        "print_again": _("Print slip"),
    }


@login_required
def manifest(request, code):
    """`/offline/{code}/manifest.webmanifest`: what makes the page installable (its own window, its icon)."""
    terminal = terminal_for_page(request, code)
    page = reverse("terminals:offline", args=[terminal.code])
    return JsonResponse({
        "name": f"Tokenline {terminal.code}", "short_name": terminal.code, "start_url": page, "scope": page,
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#1f4e79",
        "icons": [{"src": static("favicon.svg"), "sizes": "any", "type": "image/svg+xml"}],
    }, content_type="application/manifest+json")


def service_worker(request):
    """`/offline/sw.js`: the service worker, served from `/offline/` so that its scope covers every terminal's
    page. It holds nothing private (the list of static files it keeps), so it needs no login; its cache name
    changes with those files, and a new version replaces the old cache when installed."""
    files = [static(path) for path in CACHED_STATIC]
    digest = hashlib.sha256()
    for path in CACHED_STATIC:
        digest.update(Path(finders.find(path)).read_bytes())
    version = digest.hexdigest()[:12]
    body = render(request, "terminals/sw.js", {"files": files, "version": version},
                  content_type="text/javascript").content
    response = HttpResponse(body, content_type="text/javascript")
    response["Cache-Control"] = "no-cache"  # the browser checks for a new worker on every visit
    return response
