"""Settings of the bench scripts: the project's, plus django-sequences, which bench/allocate.py times next to
`idseq.services.allocate()` (a test dependency only, see requirements-test.txt)."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "sequences"]  # noqa: F405

# The API's user throttle stays on (it counts every request the benches time, in each process's memory as in
# production: core/throttling.py), but never refuses: the benches send far more than a desk's 1,200 requests a
# minute as one user. A one-second window keeps the user's request history about as long as production's.
BENCH_THROTTLE_USER = "100000/s"
REST_FRAMEWORK = {  # noqa: F405
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_THROTTLE_RATES": {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": BENCH_THROTTLE_USER},  # noqa: F405
}
