"""Security settings: DRF throttles, production settings that `check --deploy` finds nothing to say about, and a
server that will not start without DEBUG on a missing, short or example SECRET_KEY. (Logins: test_logins.py.)"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_user_past_the_user_rate_gets_429(api, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user": "3/min"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    # DRF copies the rates onto the class when it is imported; follow the changed setting for this test.
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        statuses = [api.get("/api/v1/patients/").status_code for _ in range(5)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert statuses == [200, 200, 200, 429, 429]


def test_check_deploy_with_debug_off_finds_no_issues():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SECURE", "SESSION_", "CSRF_"))}
    env.update(
        DEBUG="false",
        SECRET_KEY="a-production-secret-" + "x7Qp2" * 12,
        ALLOWED_HOSTS="tokenline.hospital.lan",
        DATABASE_URL="postgres://tokenline@127.0.0.1:5432/tokenline",  # not connected to by `check`
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("secret_key, problem", [
    ("", "SECRET_KEY is missing"),
    ("change-me", "SECRET_KEY is an example value ('change-me')"),
    ("dev-only-insecure-key", "SECRET_KEY is an example value ('dev-only-insecure-key')"),
    ("a-random-but-short-key-x7Qp2", "SECRET_KEY is too short (28 characters)"),
])
def test_without_debug_a_missing_short_or_example_secret_key_stops_startup(secret_key, problem):
    env = {**os.environ, "DEBUG": "false", "SECRET_KEY": secret_key, "ALLOWED_HOSTS": "tokenline.hospital.lan"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and problem in result.stderr, result.stderr[-2000:]
