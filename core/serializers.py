"""Model serializers for the hot API paths (registration, visit issue, call-next): fields built once per class.

DRF's ModelSerializer works its fields out from the model on every instantiation (field_mapping.get_field_kwargs
for each model field: about 0.7 ms for a patient), twice per request (input and output). The outcome depends only
on the class (Meta, declared fields), so it is built once and each serializer gets a deep copy, the way DRF itself
copies a plain Serializer's declared fields (Field.__deepcopy__ makes fresh, unbound fields).
"""

import copy

from rest_framework import serializers


class ModelSerializer(serializers.ModelSerializer):
    """A ModelSerializer whose fields are built once per class. For serializers whose fields depend on nothing but
    the class: a subclass that adds or drops fields by instance, request or context does it on `self.fields` (as
    patients.api.PatientIn does), never in `get_fields`."""

    def get_fields(self) -> dict:
        """A fresh copy of the class's fields {name: Field}, built by ModelSerializer on first use."""
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:
            built = super().get_fields()
            cls._built_fields = built  # one per class: a subclass builds its own
        return copy.deepcopy(built)
