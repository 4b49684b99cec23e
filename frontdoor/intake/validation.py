"""Strict validation of a submission, reporting every problem at once with its field path.

The rules come from the kind's payload type (``queue_config.kinds``): a valid payload converts in one
call; an invalid one is then checked field by field against the same types, so that one 422 names every
field with its reason (msgspec alone stops at the first error). What a type cannot express (a resident
ID's check character and birth date, a relation between fields) is checked here once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import typing
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
import orjson

from queue_config import resident_id
from queue_config.kinds import REGISTRY, Kind, KindSpec

_TOP_LEVEL = frozenset({"kind", "citizen_id", "payload"})
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class ValidationFailed(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid fields: " + ", ".join(sorted(fields)))
        self.fields = fields


@dataclass(frozen=True, slots=True)
class Submission:
    kind: Kind
    citizen_id: str
    payload: dict[str, Any]
    typed: msgspec.Struct  # the payload as its kind's type, for the kind's rules

    @property
    def spec(self) -> KindSpec[Any]:
        return REGISTRY[self.kind]

    @property
    def digest(self) -> str:
        """Digest of the normalized submission: equal for the same content however it was spelled."""
        canonical = orjson.dumps(
            {"kind": self.kind, "citizen_id": self.citizen_id, "payload": self.payload},
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.sha256(canonical).hexdigest()


def validate_submission(doc: Any, prefix: str = "", today: dt.date | None = None) -> Submission:
    if not isinstance(doc, dict):
        raise ValidationFailed({prefix or "body": "must be a JSON object"})
    errors: dict[str, str] = {}
    for name in doc.keys() - _TOP_LEVEL:
        errors[prefix + name] = "unknown field"
    for name in _TOP_LEVEL - doc.keys():
        errors[prefix + name] = "required"

    spec: KindSpec[Any] | None = None
    if "kind" in doc:
        raw_kind = doc["kind"]
        spec = REGISTRY.get(raw_kind) if isinstance(raw_kind, str) else None
        if spec is None:
            errors[prefix + "kind"] = "must be one of: " + ", ".join(REGISTRY)

    citizen = doc.get("citizen_id")
    if "citizen_id" in doc and (why := resident_id.problem(citizen)):
        errors[prefix + "citizen_id"] = why

    typed: msgspec.Struct | None = None
    payload = doc.get("payload")
    if "payload" in doc:
        if not isinstance(payload, dict):
            errors[prefix + "payload"] = "must be an object"
        elif spec is not None:
            typed, problems = payload_problems(spec, payload, today or dt.date.today())
            errors.update({f"{prefix}payload.{name}": why for name, why in problems.items()})

    if errors:
        raise ValidationFailed(errors)
    assert spec is not None and typed is not None and isinstance(citizen, str)
    return Submission(spec.name, resident_id.normalize(citizen), msgspec.to_builtins(typed), typed)


def payload_problems(
    spec: KindSpec[Any], payload: dict[str, Any], today: dt.date
) -> tuple[msgspec.Struct | None, dict[str, str]]:
    """The payload as ``spec``'s type, or the reason for each field that keeps it from being one."""
    try:
        typed = msgspec.convert(payload, spec.payload)
    except msgspec.ValidationError:
        return None, _field_problems(spec.payload, payload)
    return typed, spec.check(typed, today)


def _field_problems(payload_type: type[msgspec.Struct], payload: dict[str, Any]) -> dict[str, str]:
    fields = {f.encode_name: f for f in msgspec.structs.fields(payload_type)}
    errors = {name: "unknown field" for name in payload.keys() - fields.keys()}
    for name, info in fields.items():
        if name not in payload:
            errors[name] = "required"
            continue
        try:
            msgspec.convert(payload[name], info.type)
        except msgspec.ValidationError:
            errors[name] = reason(info.type, payload[name])
    return errors


def reason(annotated: Any, value: Any) -> str:
    """What a citizen is told about ``value``, which is not of the field type ``annotated``: the type's
    description (``queue_config.kinds``), or its choices."""
    base: Any = annotated
    metas: list[msgspec.Meta] = []
    if typing.get_origin(annotated) is typing.Annotated:
        base, *extra = typing.get_args(annotated)
        metas = [m for m in extra if isinstance(m, msgspec.Meta)]
    if typing.get_origin(base) is Literal:
        return "must be one of: " + ", ".join(str(c) for c in typing.get_args(base))
    if base is dt.date and isinstance(value, str) and _DATE.match(value):
        return "not a calendar date"
    described = next((m.description for m in metas if m.description), None)
    return f"must be {described}" if described else f"must be of type {getattr(base, '__name__', base)}"
