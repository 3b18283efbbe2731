"""core.compiled: a queryset compiled once answers like the ORM for other values, and refuses a placeholder that
does not reach the SQL as a parameter."""

import pytest
from django.contrib.auth.models import Group

from core.compiled import Compiled

GROUPS = Compiled(lambda name: Group.objects.filter(name=name).values("id", "name"), name="placeholder-name")


def test_it_answers_like_the_orm_for_each_value(db):
    made = [Group.objects.create(name=f"compiled-{i}") for i in range(2)]
    for group in made:
        assert GROUPS.rows(name=group.name) == list(Group.objects.filter(name=group.name).values("id", "name"))
    assert GROUPS.rows(name="no such group") == []


def test_a_placeholder_that_is_no_parameter_is_refused(db):
    folded = Compiled(lambda limit: Group.objects.all()[:limit], limit=5)  # LIMIT is written into the SQL text
    with pytest.raises(ValueError, match="limit"):
        folded.rows(limit=3)
