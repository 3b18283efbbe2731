"""Staff roles. The one home for which group may do what; pages and the API check these model permissions.

- reception: registers and finds patients, issues tokens (books, cancels, marks no-shows), runs queues.
- lab_terminal: a lab workstation registering patients over the API, online or offline.
- doctor: runs their own room (OPD): sees doctors, slots and tokens; calls, calls again, starts, completes and
  marks no-shows (tokens.change_token). Books nothing and registers no one.
- ops: reads everything for reports (the OPD daily report and the manager's day, `today.view_day`, included) and integrity checks (idseq: sequences with usage, health, the ledger).
- fhir_reader: another system (lab, hospital information system) reading patients through /fhir/.
- admin: manages everything through the admin (members must also be staff to log in there); for idseq that means
  creating sequences (add_sequence), resetting them (idseq.reset_sequence), voiding numbers and taking ids over
  the API (idseq.issue_number). Carrying over a number issued before Tokenline (`patients.carry_over_mrn`) is the
  admin's unless an admin gives it to a user: it reserves a value of the MRN sequence.

Reception and lab terminals get no idseq permission on purpose: every number they need (MRN, token) is issued by
the service that saves the record carrying it, in the same transaction. A bare id from `POST sequences/{key}/next/`
has no record behind it, so giving desks that button would only produce numbers to void. An integration that
needs prefix ids (billing, stores) gets a user with `idseq.issue_number`.
"""

PROJECT_APPS = ("idseq", "patients", "terminals", "queues", "tokens", "notifications", "today")

# Each role: a list of "app_label.codename" permissions, or an app label alone for every permission of that app.
ROLE_PERMISSIONS = {
    "reception": [
        "patients.view_patient",
        "patients.view_register",  # the whole register, not only its own registrations
        "patients.add_patient",
        "patients.change_patient",
        # OPD tokens: book (POST tokens/, emergency/, no_show/, complete/), cancel (DELETE), see doctors and slots.
        "tokens.view_doctor",
        "tokens.view_slot",
        "tokens.view_token",
        "tokens.add_token",
        "tokens.change_token",  # runs doctors' rooms while a doctor has no login of their own
        "tokens.delete_token",
        "tokens.view_waitinglistentry",
        # Walk-in queues: see queues and desks, issue tokens (add_visit), run desks (change_visit: call, start,
        # complete, no-show, recall, transfer, cancel).
        "queues.view_queue", "queues.view_desk", "queues.view_visit", "queues.add_visit", "queues.change_visit",
    ],
    "doctor": ["tokens.view_doctor", "tokens.view_slot", "tokens.view_token", "tokens.change_token"],
    # A terminal leases blocks and syncs for its own terminal only (terminals.services checks the binding).
    "lab_terminal": [
        "patients.view_patient",
        "patients.add_patient",
        "terminals.view_labterminal",
        "terminals.view_terminallease",
        "terminals.add_terminallease",
    ],
    "fhir_reader": ["patients.view_patient", "patients.view_register"],
    # The CSV import page; the duplicates worklist, where ops merge records and mark pairs "not the same" (reception
    # may not merge: a wrong merge moves a patient's visits and tokens onto someone else).
    "ops": ["view:" + app for app in PROJECT_APPS] + [
        "patients.add_importjob", "patients.merge_patient", "patients.change_duplicatepair",
    ],
    # API tokens (knox), login lockouts (axes: unlock by deleting the access attempt), TOTP devices (enrol staff).
    "admin": [*PROJECT_APPS, "auth", "knox", "axes", "otp_totp"],
}


# Device credentials (a lab terminal's key) see only the patients they registered, never the register: a stolen
# workstation key must not read every patient's CNIC, phone and address. Reading the whole register is a
# permission of the roles that need it (a lab terminal's role lacks it), so the check is answered from the
# permissions loaded with the user, with no query of its own. Applied where patients are read
# (patients.selectors.visible_to), on every path.
REGISTER_PERMISSION = "patients.view_register"


def sees_own_patients_only(user) -> bool:
    """True for a user without REGISTER_PERMISSION (a lab terminal's key); superusers have every permission."""
    return not user.has_perm(REGISTER_PERMISSION)


def sync_roles(apps=None) -> None:
    """Create the role groups and give each exactly the permissions ROLE_PERMISSIONS lists.

    Args:
        apps: an app registry (the historical one inside a migration), or None for the live one.
    Permissions that do not exist yet (an app not migrated) are skipped; the post_migrate hook adds them later.
    """
    if apps is None:
        from django.apps import apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, entries in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = Permission.objects.none()
        for entry in entries:
            if entry.startswith("view:"):
                wanted |= Permission.objects.filter(
                    content_type__app_label=entry[5:], codename__startswith="view_"
                )
            elif "." in entry:
                app_label, codename = entry.split(".")
                wanted |= Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            else:
                wanted |= Permission.objects.filter(content_type__app_label=entry)
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, **kwargs) -> None:
    """post_migrate hook: keep the groups' permissions in step with the apps now installed.

    Runs once, after the last project app's permissions are created (PROJECT_APPS is in INSTALLED_APPS order), when
    every app's permissions exist; post_migrate also follows every flush of a transactional test.
    """
    if sender.name == PROJECT_APPS[-1]:
        sync_roles()
