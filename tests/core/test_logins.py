"""Logins that cannot be guessed: the lockout per (username, client address) on the token endpoint, the login page
and /admin/login/; X-Forwarded-For believed only behind configured proxies; password rules; the admin's second
factor; sessions that end when idle."""

import datetime
import io

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from tests.conftest import make_user

LIMIT = django_settings.AXES_FAILURE_LIMIT
COOL_OFF = datetime.timedelta(minutes=django_settings.AXES_COOLOFF_MINUTES)
TOKEN_URL = "/api/v1/auth/token/"


def forged(i: int) -> str:
    """A different made-up X-Forwarded-For value for each guess."""
    return f"10.{i // 250 % 250}.{i % 250}.{i // 62_500 + 1}"


def token_login(username: str, password: str, **extra):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, **extra)


def test_1000_guesses_with_changing_forwarded_for_on_the_token_endpoint_are_cut_off_at_the_limit(db):
    make_user("desk1", "reception")
    make_user("desk2", "reception")
    statuses = [token_login("desk1", f"guess-{i}", HTTP_X_FORWARDED_FOR=forged(i)).status_code for i in range(1000)]
    assert statuses[:LIMIT - 1] == [400] * (LIMIT - 1)
    assert set(statuses[LIMIT - 1:]) == {429}  # the header made no new address: REMOTE_ADDR counts
    right = token_login("desk1", "pw-desk1", HTTP_X_FORWARDED_FOR=forged(1000))
    assert right.status_code == 429 and "token" not in right.json()  # the right password is refused too
    assert 0 < int(right.headers["Retry-After"]) <= COOL_OFF.total_seconds()
    # A colleague at the same address (a shared reception PC) is not locked out.
    assert token_login("desk2", "pw-desk2").status_code == 200


def test_1000_guesses_on_the_admin_login_are_cut_off_at_the_limit_and_other_staff_still_log_in(db):
    make_user("boss", "admin", is_staff=True)
    make_user("boss2", "admin", is_staff=True)
    client = Client()

    def attempt(password, username="boss", i=0):
        return client.post("/admin/login/?next=/admin/", {"username": username, "password": password,
                                                          "next": "/admin/"}, HTTP_X_FORWARDED_FOR=forged(i))

    statuses = [attempt(f"guess-{i}", i=i).status_code for i in range(1000)]
    assert statuses[:LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its error
    assert set(statuses[LIMIT - 1:]) == {429}
    right = attempt("pw-boss")
    assert right.status_code == 429 and "Retry-After" in right.headers
    assert "_auth_user_id" not in client.session
    other = attempt("pw-boss2", username="boss2")
    assert other.status_code == 302 and client.get("/admin/").status_code == 200


def test_the_login_page_locks_out_past_the_limit_with_a_message_and_the_lockout_ends_after_the_cool_off(db):
    make_user("desk1", "reception")
    client = Client()
    statuses = [client.post("/login/", {"username": "desk1", "password": f"guess-{i}"}).status_code
                for i in range(LIMIT + 3)]
    assert statuses == [200] * (LIMIT - 1) + [429] * 4
    locked = client.post("/login/", {"username": "desk1", "password": "pw-desk1"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert 0 < int(locked.headers["Retry-After"]) <= COOL_OFF.total_seconds()
    with time_machine.travel(timezone.now() + COOL_OFF / 2):  # guessing on does not make the lockout longer
        assert client.post("/login/", {"username": "desk1", "password": "again"}).status_code == 429
    with time_machine.travel(timezone.now() + COOL_OFF + datetime.timedelta(seconds=5)):
        assert client.post("/login/", {"username": "desk1", "password": "pw-desk1"}).status_code == 302


def test_a_lockout_and_a_wrong_login_say_nothing_of_which_part_was_wrong(db):
    make_user("desk1", "reception")
    assert token_login("desk1", "wrong").json() == token_login("nobody", "wrong").json()
    for username in ("desk1", "nobody"):
        for i in range(LIMIT):
            token_login(username, f"guess-{i}")
    locked = [token_login(username, "pw-desk1") for username in ("desk1", "nobody")]
    assert [response.status_code for response in locked] == [429, 429]
    assert locked[0].json() == locked[1].json()
    assert "password" not in locked[0].json()["detail"]


def test_a_right_password_before_the_limit_clears_the_failures(db):
    make_user("desk1", "reception")
    for i in range(LIMIT - 1):
        token_login("desk1", f"guess-{i}")
    assert token_login("desk1", "pw-desk1").status_code == 200
    assert [token_login("desk1", f"typo-{i}").status_code for i in range(LIMIT - 1)] == [400] * (LIMIT - 1)


def test_behind_a_proxy_guesses_count_per_address_the_proxy_saw(db, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}  # NUM_PROXIES=1 in the environment
    make_user("desk1", "reception")

    def attempt(client_address, sent_by_client, password="guess"):
        # nginx's $proxy_add_x_forwarded_for: what the client sent, then the address nginx saw it come from.
        return token_login("desk1", password, REMOTE_ADDR="127.0.0.1",
                           HTTP_X_FORWARDED_FOR=f"{sent_by_client}, {client_address}")

    statuses = [attempt("10.0.0.7", forged(i)).status_code for i in range(LIMIT + 2)]
    assert statuses[-1] == 429
    # The same name from another desk behind the same proxy is not locked out.
    assert attempt("10.0.0.8", "10.0.0.7", password="pw-desk1").status_code == 200


@pytest.mark.parametrize("password", ["password", "12345678", "password123", "short-pw", "4815162342108"])
def test_weak_passwords_are_refused(db, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=make_user("desk1", "reception"))


def test_a_long_uncommon_password_is_accepted(db):
    validate_password("amber-kettle-41-monsoon", user=make_user("desk1", "reception"))


def test_with_the_second_factor_required_the_admin_needs_a_totp_code(db, settings):
    settings.TOKENLINE_ADMIN_REQUIRE_2FA = True
    boss = make_user("boss", "admin", is_staff=True)
    signed_in = Client()
    signed_in.force_login(boss)  # a password alone (as any page login gives) does not open the admin
    assert signed_in.get("/admin/").status_code == 302
    device = TOTPDevice.objects.create(user=boss, name="phone", confirmed=True)
    client = Client()
    form = {"username": "boss", "password": "pw-boss", "next": "/admin/"}
    without = client.post("/admin/login/", form)
    assert without.status_code == 200 and client.get("/admin/").status_code == 302
    with_code = client.post("/admin/login/", {**form, "otp_device": device.persistent_id,
                                              "otp_token": f"{totp(device.bin_key):06d}"})
    assert with_code.status_code == 302 and client.get("/admin/").status_code == 200


def test_add_totp_device_enrols_a_staff_user_and_prints_the_link_to_scan(db):
    with pytest.raises(CommandError, match="No user 'boss'"):
        call_command("add_totp_device", "boss")
    make_user("desk1", "reception")
    with pytest.raises(CommandError, match="not staff"):
        call_command("add_totp_device", "desk1")
    make_user("boss", "admin", is_staff=True)
    out = io.StringIO()
    call_command("add_totp_device", "boss", stdout=out)
    device = TOTPDevice.objects.get(user__username="boss")
    assert device.confirmed and device.config_url in out.getvalue()


def test_without_the_second_factor_required_staff_log_in_to_the_admin_with_a_password(db, settings):
    settings.TOKENLINE_ADMIN_REQUIRE_2FA = False
    client = Client()
    client.force_login(make_user("boss", "admin", is_staff=True))
    assert client.get("/admin/").status_code == 200


def test_a_session_idle_for_longer_than_the_limit_is_logged_out(db, settings):
    settings.TOKENLINE_SESSION_IDLE_MINUTES = 30
    client = Client()
    client.force_login(make_user("desk1", "reception"))
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(minutes=25), tick=False):
        assert client.get("/").status_code == 200  # in use: the idle time starts again
    with time_machine.travel(start + datetime.timedelta(minutes=50), tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(start + datetime.timedelta(minutes=81), tick=False):
        response = client.get("/")
        assert response.status_code == 302 and response.url.startswith("/login/")
        assert client.get("/").status_code == 302  # logged out, not only turned away once
