"""Model fields stored sealed (org.crypto): the column holds ciphertext, the attribute plaintext.

A value read from the database stays sealed until its attribute is read: a list that loads a
hundred cases and shows none of their complainants decrypts nothing. Assigning a plaintext seals
it on save; saving a row whose sealed value was never read writes the same ciphertext back
(no decryption, no re-encryption).

A sealed column cannot be searched (its ciphertext differs on every write): every lookup but
`isnull` raises, so a query that would silently match nothing fails in the tests instead.
Exact search goes through a keyed-hash column beside it (see cases.identity).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import FieldError
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from . import crypto


class Sealed:
    """A value as stored: ciphertext not yet opened."""

    __slots__ = ("token",)

    def __init__(self, token: str):
        self.token = token

    def __repr__(self) -> str:
        return "<sealed>"


class _SealedAttribute(DeferredAttribute):
    """A data descriptor (unlike Django's DeferredAttribute), so that reading the attribute always
    passes here, even once the stored form is in the instance's __dict__."""

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            value = self.field.open(value.token)  # type: ignore[attr-defined]
            instance.__dict__[self.field.attname] = value
        return value


class SealedTextField(models.TextField):
    """Text sealed at rest; its purpose (the associated data) is `<app>.<model>.<field>`."""

    descriptor_class = _SealedAttribute

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        self.purpose = f"{cls._meta.label_lower}.{name}"

    def empty(self) -> Any:
        return ""

    def open(self, token: str) -> Any:
        return crypto.unseal(token, purpose=self.purpose)

    def encode(self, value: Any) -> str:
        return str(value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        if value == "":
            return self.empty()
        return Sealed(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, Sealed):
            return self.open(value.token)
        return value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        # the stored form when it was never read: written back as it is
        return model_instance.__dict__.get(self.attname)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, Sealed):
            return value.token
        if value is None:
            return None
        if value == self.empty() or value == "":
            return ""
        return crypto.seal(self.encode(value), purpose=self.purpose)

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        raise FieldError(f"{self.name} is sealed at rest and cannot be searched; use its keyed-hash column.")

    def get_transform(self, lookup_name: str) -> Any:
        raise FieldError(f"{self.name} is sealed at rest and cannot be searched; use its keyed-hash column.")

    def deconstruct(self) -> Any:
        name, _path, args, kwargs = super().deconstruct()
        return name, f"huiyin.org.fields.{type(self).__name__}", args, kwargs


class SealedJSONField(SealedTextField):
    """A JSON value (a list of representatives …) sealed at rest; the empty value is `[]`."""

    _pyi_private_set_type: Any  # django-stubs: what the attribute takes and gives (JSON, not a str)
    _pyi_private_get_type: Any

    def empty(self) -> Any:
        return []

    def open(self, token: str) -> Any:
        return json.loads(crypto.unseal(token, purpose=self.purpose))

    def encode(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def get_prep_value(self, value: Any) -> Any:
        if value == []:
            return ""
        return super().get_prep_value(value)

    def value_to_string(self, obj: models.Model) -> str:
        return self.encode(self.value_from_object(obj))

    def formfield(self, **kwargs: Any) -> Any:
        from django import forms

        return forms.JSONField(required=not self.blank, label=self.verbose_name, **{
            k: v for k, v in kwargs.items() if k in ("widget", "help_text", "initial")})


class SealedJSONObjectField(SealedJSONField):
    """A sealed JSON object (a transport's options with their secrets); the empty value is `{}`."""

    def empty(self) -> Any:
        return {}

    def get_prep_value(self, value: Any) -> Any:
        if value == {}:
            return ""
        return super().get_prep_value(value)
