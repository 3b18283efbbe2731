"""Helpers for /health/ and /metrics tests."""

import socket

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import worker_ports

PORTS = worker_ports(8300, 100)  # servers these tests start stay on 127.0.0.1 in this range


def free_port() -> int:
    """A port of PORTS on 127.0.0.1 that nothing listens on now."""
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS}")


def parse(exposition: str) -> dict[tuple[str, tuple], float]:
    """Prometheus text parsed with prometheus_client's own parser: {(sample name, sorted label pairs): value},
    e.g. {("tokenline_numbers_issued_total", (("sequence", "mrn"),)): 3.0}."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """GET /metrics with a Django test `client` and `parse` it; fails the test unless the answer is 200."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def value(samples: dict, name: str, **labels) -> float:
    """One sample's value, 0 when the series is absent (a counter not incremented yet in this process)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
