"""Settings of the bench scripts: the project's, plus django-sequences, which bench/allocate.py times next to
`idseq.services.allocate()` (a test dependency only, see requirements.txt)."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "sequences"]  # noqa: F405
