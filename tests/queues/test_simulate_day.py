"""`simulate_day` plays a day against a running server over HTTP, bounded and local by default."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from patients.models import Patient
from queues.models import Visit
from tests.conftest import make_user
from tests.queues.conftest import make_desk
from tests.tokens.conftest import make_slot
from tokens import services as opd
from tokens.models import Token


@pytest.mark.django_db(transaction=True)
def test_simulate_day_registers_issues_books_and_serves_over_http(live_server, general):
    make_user("sim", "reception")
    make_desk("Room 1", general)
    make_slot(opd.create_doctor(name="Dr. Sim"), timezone.localtime().replace(second=0, microsecond=0), minutes=120)
    out = io.StringIO()
    call_command("simulate_day", url=live_server.url, username="sim", password="pw-sim", speed=3600, hours=0.5,
                 arrivals=60, opd_share=0.5, seed=3, stdout=out)
    report = out.getvalue()
    assert "Played 0.50 h" in report
    assert Patient.objects.count() >= 10 and Visit.objects.count() == Patient.objects.count()
    assert Visit.objects.filter(status=Visit.Status.COMPLETED).exists()
    assert "500" not in report.split("requests")[1].split("}")[0]
    assert Token.objects.exists()


def test_simulate_day_refuses_another_host_and_unbounded_days(db):
    with pytest.raises(CommandError, match="not this machine"):
        call_command("simulate_day", url="http://example.org")
    with pytest.raises(CommandError, match="--hours"):
        call_command("simulate_day", hours=48)
