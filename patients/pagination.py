"""Pages of search results that never count more than COUNT_CAP matches.

Counting every match of a common name at a million patients costs as much as finding them; past a thousand the
desk refines the search instead of paging. So `count` is exact up to COUNT_CAP, and the API says when it stopped.
"""

from functools import cached_property

from django.core.paginator import Paginator
from rest_framework.pagination import PageNumberPagination

COUNT_CAP = 1000


class CappedPaginator(Paginator):
    """A Django paginator of a queryset whose `count` is min(matches, COUNT_CAP), counted with `LIMIT COUNT_CAP`."""

    @cached_property
    def count(self) -> int:
        # Unordered: which COUNT_CAP rows are counted does not change the count, and a name search's ordering
        # would score every one of them first.
        return self.object_list.order_by()[:COUNT_CAP].count()

    @property
    def capped(self) -> bool:
        """Whether there may be more matches than `count`."""
        return self.count >= COUNT_CAP


class CappedPagination(PageNumberPagination):
    """DRF pages on a CappedPaginator; adds `"count_capped": true` when `count` stopped at COUNT_CAP."""

    django_paginator_class = CappedPaginator

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count_capped"] = self.page.paginator.capped
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["count_capped"] = {"type": "boolean"}
        return schema
