"""Panels other apps add to the patient page, so that patients never imports them (arrows point inward).

An app registers a panel in its `AppConfig.ready()`; the patient page renders every registered panel in order.
"""

from collections.abc import Callable

from django.http import HttpRequest
from django.utils.safestring import SafeString

Panel = Callable[[HttpRequest, object], SafeString]

_panels: list[Panel] = []


def register(panel: Panel) -> Panel:
    """Add `panel(request, patient) -> html` to the patient page (idempotent: a panel registers once).

    Returns the panel, so it can be used as a decorator.
    """
    if panel not in _panels:
        _panels.append(panel)
    return panel


def render_all(request: HttpRequest, patient) -> list[SafeString]:
    """The HTML of every registered panel for `patient`, in registration order."""
    return [panel(request, patient) for panel in _panels]
