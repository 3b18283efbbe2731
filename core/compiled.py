"""A queryset's SQL built once per process and sent again with other values: for hot reads whose ORM compiling cost
more CPU than PostgreSQL spent running them, while the query stays written with the ORM.

    LINE = Compiled(lambda queue, day: Visit.objects.filter(queue_id=queue, visit_date=day).values("id"),
                    queue=-900_001, day=datetime.date(1901, 1, 1))
    rows = LINE.rows(queue=7, day=today)          # [{"id": ...}, ...]

The queryset is built and compiled on first use with the placeholder values given here; each placeholder must
reach the SQL as a parameter equal to itself (not folded into the text), and no other parameter may equal one.
Later calls put their values where the placeholders were. A queryset whose shape depends on the values (a list whose
length varies, a branch on a value) needs one Compiled per shape.
"""

import threading
from collections.abc import Callable, Hashable

from django.db import connection
from django.db.models import QuerySet


class Compiled:
    """One queryset's SQL and parameter slots, compiled once per process.

    Args:
        build: makes the queryset from keyword arguments (the placeholders' names).
        **placeholders: a value per argument, distinct from every other parameter the query has.
    Raises:
        ValueError (on first use): a placeholder does not appear among the compiled parameters.
    """

    def __init__(self, build: Callable[..., QuerySet], **placeholders):
        self.build, self.placeholders = build, placeholders
        self._compiled: tuple[str, list] | None = None
        self._lock = threading.Lock()

    def _sql(self) -> tuple[str, list]:
        """(SQL, slots): slots hold a placeholder's name where a value goes and the constant otherwise."""
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    sql, params = self.build(**self.placeholders).query.sql_with_params()
                    names = {value: name for name, value in self.placeholders.items()}
                    slots = [("arg", names[p]) if isinstance(p, Hashable) and p in names else ("const", p)
                             for p in params]
                    missing = set(self.placeholders) - {name for kind, name in slots if kind == "arg"}
                    if missing:
                        raise ValueError(f"placeholders not among the query's parameters: {sorted(missing)}")
                    self._compiled = (sql, slots)
        return self._compiled

    def rows(self, **values) -> list[dict]:
        """The query's rows as dicts (column name to value, as the database adapter returns it) for `values`."""
        sql, slots = self._sql()
        params = [values[name] if kind == "arg" else name for kind, name in slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            columns = [column.name for column in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]
