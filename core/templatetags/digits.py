"""Template filters for numbers people read on slips and boards (core/digits.py); a builtin library
(settings TEMPLATES), so every app's templates use them without `{% load %}`.

    {{ visit.token|digits }}        the page's language decides: Urdu page -> the hospital's Urdu digits
    {{ q.waiting|urdu_digits }}     text that is Urdu on any page (the board's Urdu line)
"""

from django import template

from core.digits import page_digits, urdu_digits

register = template.Library()
register.filter("digits", page_digits)
register.filter("urdu_digits", urdu_digits)
