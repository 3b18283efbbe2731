import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import override_settings

from patients.models import Patient
from terminals.models import LabTerminal


@override_settings(DEBUG=False)
def test_seed_demo_is_refused_when_debug_is_off(db):
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo")
    assert not User.objects.exists()


@override_settings(DEBUG=True)
def test_seed_demo_creates_one_user_per_role_and_patients_through_the_service(seed_terminals, capsys):
    call_command("seed_demo", patients=25)
    output = capsys.readouterr().out
    assert "password 'reception-demo'" in output
    roles = {user.username: [g.name for g in user.groups.all()] for user in User.objects.all()}
    assert roles == {"reception": ["reception"], "lab": ["lab_terminal"], "ops": ["ops"], "doctor": ["doctor"],
                     "admin": ["admin"]}
    assert User.objects.get(username="admin").is_staff
    call_command("seed_demo_terminals")
    assert LabTerminal.objects.get(code="LAB1-PC").user.username == "lab"
    mrns = sorted(Patient.objects.values_list("mrn", flat=True))
    assert mrns[0] == "001-00-001" and mrns[-1] == "001-00-025"
    assert all(p.full_clean() is None for p in Patient.objects.all())
    call_command("seed_demo", patients=25)  # a second run keeps the users and adds no patients
    assert Patient.objects.count() == 25
