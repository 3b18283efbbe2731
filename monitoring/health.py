"""Readiness checks of /health/, on django-health-check's `HealthCheck` (its `Database` check is used as it is).

Each check raises `ServiceUnavailable` with a message fit for anyone to read: a database error's text (host, port,
database name, driver message) is logged, never shown.
"""

import dataclasses
import logging

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from idseq.services import health_check as numbering_health

DATABASE_DOWN = "The database did not answer."
logger = logging.getLogger("tokenline.monitoring")


def unapplied_migrations() -> list[str]:
    """The shipped migrations the database has not applied, as "app.name", in dependency order. Raises DatabaseError
    when the database does not answer."""
    loader = MigrationExecutor(connection).loader
    # Every node of the graph, not only the plan to the leaves: a lost row of an early migration under an applied
    # later one is missing schema too, and `migration_plan` would not list it.
    unapplied = {}
    for leaf in loader.graph.leaf_nodes():
        for node in loader.graph.forwards_plan(leaf):
            if node not in loader.applied_migrations:
                unapplied.setdefault(node, None)
    return [f"{app}.{name}" for app, name in unapplied]


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Ready only once every shipped migration is applied: a worker that starts before `migrate` has finished (or
    runs newer code than the schema) must not get traffic."""

    async def run(self):
        # thread_sensitive: on the request's own thread and database connection, which Django closes after it.
        await sync_to_async(self.check)()

    def check(self):
        try:
            unapplied = unapplied_migrations()
        except DatabaseError as exc:
            raise ServiceUnavailable(DATABASE_DOWN) from exc
        if unapplied:
            raise ServiceUnavailable(f"{len(unapplied)} migration(s) not applied, first {unapplied[0]}.")


@dataclasses.dataclass
class Numbering(HealthCheck):
    """idseq's own check (`idseq.services.health_check`): a sample id issued in a savepoint that is rolled back,
    so no number is consumed. After `run`, `details` holds the worst sequence usage level (ok, warning,
    critical), which is shown but does not fail readiness: a filling sequence still issues numbers."""

    details: dict = dataclasses.field(default_factory=dict, repr=False)

    async def run(self):
        await sync_to_async(self.check)()

    def check(self):
        report = numbering_health()
        if report["status"] != "healthy":
            logger.warning("Numbering health check failed: %s", report["message"])
            raise ServiceUnavailable(DATABASE_DOWN)
        self.details = {"level": report["level"]}
