"""Model instances from one plain-SQL row that joins several tables: what `select_related` does, for the few hot
statements written as SQL (where building the query with the ORM cost more CPU than running it).

    JOINED = Joined((Visit, "v"), (Queue, "q"))     # (model, table alias) pairs
    sql = f"SELECT {JOINED.columns} FROM queues_visit v JOIN queues_queue q ON q.id = v.queue_id WHERE ..."
    visit, queue = JOINED.instances(cursor.fetchone())

Columns are every concrete field of each model, in field order, so `Model.from_db` gets a complete row (no deferred
field, nothing loaded again later).
"""

from django.db import connection
from django.db.models import Model


class Joined:
    """The column list of several models' rows side by side, and the instances made from such a row.

    Args:
        *parts: (model class, SQL alias of its table) pairs, in the order their columns appear.
    """

    def __init__(self, *parts: tuple[type[Model], str]):
        self.parts = [(model, [field.attname for field in model._meta.concrete_fields]) for model, _ in parts]
        quote = connection.ops.quote_name
        self.columns = ", ".join(
            f"{alias}.{quote(field.column)}" for model, alias in parts for field in model._meta.concrete_fields
        )

    def instances(self, row) -> list[Model | None]:
        """One instance per model from `row` (a tuple of all the columns); None for a model whose primary key is
        NULL (the missing side of a LEFT JOIN)."""
        made, start = [], 0
        for model, names in self.parts:
            values = row[start:start + len(names)]
            start += len(names)
            pk = values[names.index(model._meta.pk.attname)]
            made.append(None if pk is None else model.from_db(connection.alias, names, values))
        return made
