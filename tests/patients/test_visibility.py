"""patients.selectors.visible_to and of_visible: the one rule of which patients a user may read."""

from patients.models import Patient
from patients.selectors import of_visible, visible_to
from patients.services import register_patient
from queues import services as queue_services
from queues.models import Queue, Visit
from terminals.models import LabTerminal
from terminals.services import issue_terminal_key
from tests.conftest import make_user
from tests.terminals.conftest import create_seed_terminals


def test_a_terminal_sees_its_own_patients_and_rows_naming_them_the_register_roles_see_all(db):
    create_seed_terminals()
    terminal = LabTerminal.objects.get(code="LAB1-PC")
    issue_terminal_key(terminal=terminal)
    terminal.refresh_from_db()
    desk = make_user("desk1", "reception")
    own = register_patient(full_name="Own Patient", created_by=terminal.user)
    other = register_patient(full_name="Someone Else", created_by=desk)
    queue = Queue.objects.create(name="General", code="GEN", default_service_minutes=10)
    visits = [queue_services.issue_visit(patient=patient, queue=queue) for patient in (own, other)]

    assert list(visible_to(terminal.user)) == [own]
    assert list(of_visible(Visit.objects.all(), terminal.user)) == [visits[0]]
    assert list(of_visible(Patient.objects.all(), terminal.user, via="pk")) == [own]
    for role in ("reception", "ops", "fhir_reader", "admin"):
        user = make_user(f"a-{role}", role)
        assert set(visible_to(user)) == {own, other}
        everything = Visit.objects.all()
        assert str(of_visible(everything, user).query) == str(everything.query)  # no condition added
    assert not visible_to(make_user("nobody")).exists()
