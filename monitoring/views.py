"""/health/ (no login, for load balancers) and /metrics (Prometheus text format, token or address allow-list).

Both are plain Django views, outside DRF, so API throttles and authentication never apply to them; neither touches
the session or the user, so nothing reaches the database before the checks do.
"""

import hmac
import ipaddress
import logging
import os

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder

from monitoring.collectors import DatabaseCollector
from monitoring.health import readiness

log = logging.getLogger("tokenline.monitoring")


@never_cache
def health(request):
    """GET /health/ (readiness) -> 200 `{"status": "ok", "checks": {name: {"status": "ok", "seconds": ..., ...}}}`
    when the database answers, every migration is applied and idseq can issue a number (consuming none); else 503
    with `"status": "unavailable"` and each failed check's `detail`. Answers within `TOKENLINE_HEALTH_TIMEOUT`
    seconds whatever the database does (monitoring/health.py). Always JSON, never cached."""
    checks = readiness()
    failed = any(check["status"] != "ok" for check in checks.values())
    return JsonResponse({"status": "unavailable" if failed else "ok", "checks": checks}, status=503 if failed else 200)


@never_cache
def liveness(request):
    """GET /health/live/ -> 200 `{"status": "ok"}`: this process answers HTTP. No database: a load balancer or
    orchestrator restarts a process that fails this, and must not restart every one because the database is down
    (that is what readiness, /health/, says)."""
    return JsonResponse({"status": "ok"})


def may_scrape(request) -> bool:
    """Whether `request` may read /metrics: it carries `Authorization: Bearer <METRICS_TOKEN>` (when that setting is
    not empty), or comes from an address in METRICS_ALLOWED_IPS (addresses or networks, e.g. 10.0.0.0/8)."""
    token = settings.METRICS_TOKEN
    if token and hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(allowed, strict=False) for allowed in settings.METRICS_ALLOWED_IPS)


class _ThisProcess:
    """The default registry as one collector (single process: runserver, tests, one gunicorn worker)."""

    def collect(self):
        return REGISTRY.collect()


def _multiprocess_directory_ready(directory: str) -> bool:
    """Whether the workers' metric files can be read from `directory` (PROMETHEUS_MULTIPROC_DIR). A directory that
    went away while the server runs (a tmp cleaner, an operator) is made again, with a warning: the figures the
    workers had written are lost, new ones are written there again. When it cannot be made, False, with a warning:
    the scrape then shows this process's figures, never a 500."""
    if os.path.isdir(directory):
        return True
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        log.warning("PROMETHEUS_MULTIPROC_DIR %s is missing and cannot be made (%s): /metrics shows this worker's "
                    "figures only", directory, exc)
        return False
    log.warning("PROMETHEUS_MULTIPROC_DIR %s was missing; made it again (the workers' figures so far are lost)",
                directory)
    return True


def metrics(request):
    """GET /metrics -> the Prometheus exposition (OpenMetrics when the scraper asks for it); 403 unless
    `may_scrape`. Process metrics are every worker's added up when PROMETHEUS_MULTIPROC_DIR is set (gunicorn with
    several workers; a missing directory is made again, `_multiprocess_directory_ready`), this process's otherwise;
    database figures are read now (`DatabaseCollector`)."""
    if not may_scrape(request):
        return HttpResponseForbidden(
            "Metrics need Authorization: Bearer <METRICS_TOKEN> or an address in METRICS_ALLOWED_IPS.\n",
            content_type="text/plain",
        )
    registry = CollectorRegistry()
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and _multiprocess_directory_ready(directory):
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_ThisProcess())
    registry.register(DatabaseCollector())
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)
