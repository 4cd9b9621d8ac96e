"""What a question asks for, and what may answer it: the kinds, forms, and answers checked.

    kind = kind_of_request(kind=None, options=["a", "b"], multiple=True, schema=None)  # "multiple"
    fields = parse_schema({"type": "object", "properties": {...}, "required": [...]})
    check_answer("multiple", options, fields, ["a"])     # -> ["a"], or InvalidAnswer
    from_page("form", options, fields, ["ada", "42"])   # a page's raw values, typed

The five kinds, and the answer each takes (the API and the page alike):

    text      free text                          a non-empty string
    choice    one of `options`                   one of the strings
    multiple  several of `options`               a list of distinct options (may be empty),
                                                 kept in the options' order
    approve   approve or reject                  {"approved": bool, "reason": str}; a reason
                                                 is required to reject
    form      a flat JSON Schema object          an object: each property of its type, every
                                                 `required` one present (a required string
                                                 not blank)

A form's schema is deliberately small, so every field has a native input and the browser
can check it: `{"type": "object", "properties": {NAME: PROPERTY}, "required": [NAME...]}`
(plus `title`, `description`, `additionalProperties: false`), where a PROPERTY is
`{"type": "string" | "number" | "integer" | "boolean"}` with optional `title`,
`description`, `enum` (strings or numbers of the type), `default`, `minimum`, `maximum`,
`minLength`, `maxLength`. Anything else is refused naming the keyword, rather than
accepted and not enforced.

Every refusal is an `InvalidAnswer` (a ValueError) whose text starts with the path of what
is wrong (`answer.age: expected an integer, got 'x'`), so the API's 400 names the field.
What this module does not do: keep questions (`parlour.console.questions`) or render them
(`parlour.console.cards`).
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal, cast

import msgspec

from parlour.console.errors import InvalidAnswer

__all__ = [
    "KINDS",
    "FormField",
    "Kind",
    "check_answer",
    "describe_answer",
    "from_page",
    "kind_of_request",
    "parse_schema",
]

Kind = Literal["text", "choice", "multiple", "approve", "form"]
KINDS: Final[tuple[Kind, ...]] = ("text", "choice", "multiple", "approve", "form")
FieldType = Literal["string", "number", "integer", "boolean"]
FIELD_TYPES: Final[tuple[FieldType, ...]] = ("string", "number", "integer", "boolean")
MAX_FIELDS: Final = 50
MAX_NAME: Final = 100

_SCHEMA_KEYS: Final = frozenset(
    {"type", "properties", "required", "title", "description", "additionalProperties", "$schema"}
)
_PROPERTY_KEYS: Final = frozenset(
    {
        "type",
        "title",
        "description",
        "enum",
        "default",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
    }
)


class FormField(msgspec.Struct, frozen=True, kw_only=True):
    """One property of a form: its name, type, label and the limits the browser checks too."""

    name: str
    type: FieldType
    required: bool = False
    title: str = ""
    description: str = ""
    enum: tuple[str | int | float, ...] | None = None
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None

    @property
    def label(self) -> str:
        return self.title or self.name


def kind_of_request(kind: Any, options: Any, multiple: Any, schema: Any) -> Kind:
    """The kind a question asks for: `kind` if given, else `form` with a schema, `multiple`
    with options and `multiple: true`, `choice` with options, `text` otherwise. Raises
    `ValueError` naming the field when `kind` contradicts the other fields."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r:.80}")
    if multiple is not None and not isinstance(multiple, bool):
        raise ValueError(f"multiple: expected true or false, got {multiple!r:.80}")
    inferred: Kind
    if schema is not None:
        inferred = "form"
    elif options is not None:
        inferred = "multiple" if multiple else "choice"
    else:
        inferred = "approve" if kind == "approve" else "text"
    chosen: Kind = kind if kind is not None else inferred
    if chosen != inferred:
        needs = {
            "text": "no options and no schema",
            "choice": "options (and no schema)",
            "multiple": 'options and "multiple": true',
            "approve": "no options and no schema",
            "form": "a schema (and no options)",
        }[chosen]
        raise ValueError(f"kind: {chosen!r} needs {needs}; this request has {inferred!r}'s fields")
    if multiple and chosen != "multiple":
        raise ValueError("multiple: true needs options (several of them may be chosen)")
    if schema is not None and options is not None:
        raise ValueError("schema: a form takes no options (give its fields in the schema)")
    return chosen


def parse_schema(schema: Any) -> tuple[FormField, ...]:
    """The fields of a form's schema, in the order given; `ValueError` naming the keyword."""
    if not isinstance(schema, dict):
        raise ValueError(f"schema: expected a JSON Schema object, got {schema!r:.80}")
    data = cast("dict[str, Any]", schema)
    unknown = sorted(set(data) - _SCHEMA_KEYS)
    if unknown:
        raise ValueError(
            f"schema: unknown keyword {unknown[0]!r}; a form's schema takes "
            f"{', '.join(sorted(_SCHEMA_KEYS))}"
        )
    if data.get("type", "object") != "object":
        raise ValueError(f"schema.type: expected 'object', got {data.get('type')!r:.40}")
    if data.get("additionalProperties", False) is not False:
        raise ValueError("schema.additionalProperties: expected false (a form has its fields only)")
    properties: Any = data.get("properties")
    if (
        not isinstance(properties, dict)
        or not 0 < len(cast("dict[str, Any]", properties)) <= MAX_FIELDS
    ):
        raise ValueError(
            f"schema.properties: expected an object of 1 to {MAX_FIELDS} fields, "
            f"got {properties!r:.80}"
        )
    props = cast("dict[str, Any]", properties)
    required = data.get("required", [])
    if not isinstance(required, list) or not all(
        isinstance(r, str) and r in props
        for r in cast("list[Any]", required)  # pyright: ignore[reportUnnecessaryCast]
    ):
        raise ValueError(
            f"schema.required: expected a list of property names, got {required!r:.80}"
        )
    wanted = set(cast("list[str]", required))
    return tuple(_field(name, prop, name in wanted) for name, prop in props.items())


def _field(name: str, prop: Any, required: bool) -> FormField:
    where = f"schema.properties.{name}"
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ValueError(f"{where}: expected a printable name of 1 to {MAX_NAME} characters")
    if not isinstance(prop, dict):
        raise ValueError(f'{where}: expected an object such as {{"type": "string"}}')
    data = cast("dict[str, Any]", prop)
    unknown = sorted(set(data) - _PROPERTY_KEYS)
    if unknown:
        raise ValueError(
            f"{where}: unknown keyword {unknown[0]!r}; a field takes "
            f"{', '.join(sorted(_PROPERTY_KEYS))}"
        )
    kind = data.get("type")
    if kind not in FIELD_TYPES:
        raise ValueError(
            f"{where}.type: expected one of {', '.join(FIELD_TYPES)}, got {kind!r:.40}"
        )
    field_type: FieldType = kind
    for key in ("title", "description"):
        if not isinstance(data.get(key, ""), str):
            raise ValueError(f"{where}.{key}: expected a string")
    limits: dict[str, Any] = {}
    for key, attribute, whole in (
        ("minimum", "minimum", False),
        ("maximum", "maximum", False),
        ("minLength", "min_length", True),
        ("maxLength", "max_length", True),
    ):
        value = data.get(key)
        if value is None:
            continue
        numeric = field_type in ("number", "integer")
        if (key.endswith("Length") and field_type != "string") or (
            not key.endswith("Length") and not numeric
        ):
            raise ValueError(f"{where}.{key}: does not apply to a {field_type} field")
        if not _is_number(value) or (whole and (not isinstance(value, int) or value < 0)):
            raise ValueError(f"{where}.{key}: expected a number, got {value!r:.40}")
        limits[attribute] = value
    enum: tuple[str | int | float, ...] | None = None
    if "enum" in data:
        items = data["enum"]
        if field_type == "boolean" or not isinstance(items, list) or not items:
            raise ValueError(f"{where}.enum: expected a non-empty list of {field_type} values")
        values = tuple(cast("list[Any]", items))
        for value in values:
            _check_value(field_type, value, f"{where}.enum")
        enum = cast("tuple[str | int | float, ...]", values)
    parsed = FormField(
        name=name,
        type=field_type,
        required=required,
        title=data.get("title", ""),
        description=data.get("description", ""),
        enum=enum,
        **limits,
    )
    if "default" in data:
        default = _check_field(parsed, data["default"], f"{where}.default")
        parsed = msgspec.structs.replace(parsed, default=default)
    return parsed


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(field_type: FieldType, value: Any, where: str) -> Any:
    if field_type == "string":
        if not isinstance(value, str):
            raise InvalidAnswer(f"{where}: expected a string, got {value!r:.80}")
        return value
    if field_type == "boolean":
        if not isinstance(value, bool):
            raise InvalidAnswer(f"{where}: expected true or false, got {value!r:.80}")
        return value
    if field_type == "integer":
        if isinstance(value, float) and _is_number(value) and value.is_integer():
            return int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidAnswer(f"{where}: expected an integer, got {value!r:.80}")
        return value
    if not _is_number(value):
        raise InvalidAnswer(f"{where}: expected a number, got {value!r:.80}")
    return value


def _check_field(field: FormField, value: Any, where: str) -> Any:
    value = _check_value(field.type, value, where)
    if field.enum is not None and value not in field.enum:
        raise InvalidAnswer(f"{where}: expected one of {list(field.enum)!r}, got {value!r:.80}")
    if isinstance(value, str):
        if field.required and not value.strip():
            raise InvalidAnswer(f"{where}: required, got a blank string")
        if field.min_length is not None and len(value) < field.min_length:
            raise InvalidAnswer(f"{where}: expected at least {field.min_length} characters")
        if field.max_length is not None and len(value) > field.max_length:
            raise InvalidAnswer(f"{where}: expected at most {field.max_length} characters")
    elif not isinstance(value, bool):
        if field.minimum is not None and value < field.minimum:
            raise InvalidAnswer(f"{where}: expected at least {field.minimum:g}, got {value!r}")
        if field.maximum is not None and value > field.maximum:
            raise InvalidAnswer(f"{where}: expected at most {field.maximum:g}, got {value!r}")
    return value


def check_answer(
    kind: str,
    options: tuple[str, ...] | None,
    fields: tuple[FormField, ...] | None,
    answer: Any,
    where: str = "answer",
) -> Any:
    """`answer` as it is recorded if it may answer a question of this kind, else
    `InvalidAnswer` whose text starts with `where` (and the field) and says what was expected."""
    if kind == "multiple":
        return _check_multiple(options or (), answer, where)
    if kind == "approve":
        return _check_approve(answer, where)
    if kind == "form":
        return _check_form(fields or (), answer, where)
    if not isinstance(answer, str) or not answer.strip():
        raise InvalidAnswer(f"{where}: expected a non-empty string, got {answer!r:.80}")
    if kind == "choice" and options is not None and answer not in options:
        raise InvalidAnswer(f"{where}: expected one of {list(options)!r}, got {answer!r:.80}")
    return answer


def _check_multiple(options: tuple[str, ...], answer: Any, where: str) -> list[str]:
    expected = f"a list of distinct options from {list(options)!r}"
    if not isinstance(answer, list):
        raise InvalidAnswer(f"{where}: expected {expected}, got {answer!r:.80}")
    chosen = cast("list[Any]", answer)
    for index, item in enumerate(chosen):
        if item not in options:
            raise InvalidAnswer(
                f"{where}[{index}]: expected one of {list(options)!r}, got {item!r:.80}"
            )
    if len(set(chosen)) != len(chosen):
        raise InvalidAnswer(f"{where}: expected {expected}, got a repeated option")
    return [o for o in options if o in chosen]


def _check_approve(answer: Any, where: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise InvalidAnswer(
            f'{where}: expected {{"approved": true or false, "reason": "..."}}, got {answer!r:.80}'
        )
    data = cast("dict[str, Any]", answer)
    unknown = sorted(set(data) - {"approved", "reason"})
    if unknown:
        raise InvalidAnswer(f"{where}.{unknown[0]}: unknown field; expected approved and reason")
    approved = data.get("approved")
    if not isinstance(approved, bool):
        raise InvalidAnswer(f"{where}.approved: expected true or false, got {approved!r:.40}")
    reason = data.get("reason", "")
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise InvalidAnswer(f"{where}.reason: expected a string, got {reason!r:.80}")
    if not approved and not reason.strip():
        raise InvalidAnswer(f"{where}.reason: a reason is required to reject")
    return {"approved": approved, "reason": reason}


def _check_form(fields: tuple[FormField, ...], answer: Any, where: str) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise InvalidAnswer(f"{where}: expected an object of the form's fields, got {answer!r:.80}")
    data = cast("dict[str, Any]", answer)
    names = {f.name for f in fields}
    unknown = sorted(str(k) for k in data if k not in names)
    if unknown:
        raise InvalidAnswer(
            f"{where}.{unknown[0]}: not a field of this form; expected "
            f"{', '.join(f.name for f in fields)}"
        )
    result: dict[str, Any] = {}
    for field in fields:
        value = data.get(field.name)
        if value is None:
            if field.required:
                raise InvalidAnswer(f"{where}.{field.name}: required")
            continue
        result[field.name] = _check_field(field, value, f"{where}.{field.name}")
    return result


def from_page(
    kind: str,
    options: tuple[str, ...] | None,
    fields: tuple[FormField, ...] | None,
    raw: Any,
) -> Any:
    """A card's raw values (what its signals hold) as the answer the API would take: a
    multiple's checkbox flags as the chosen options, a form's input texts as typed values
    ("" for an empty optional field is left out). Values that cannot be converted are kept
    as they came, so `check_answer` names what is wrong."""
    values: list[Any] | None = cast("list[Any]", raw) if isinstance(raw, list) else None
    if kind == "multiple" and values is not None and options is not None:
        return [o for o, on in zip(options, values, strict=False) if on is True]
    if kind == "form" and values is not None and fields is not None:
        answer: dict[str, Any] = {}
        for field, value in zip(fields, values, strict=False):
            typed = _typed(field, value)
            if typed is not None:
                answer[field.name] = typed
        return answer
    return cast("object", raw)


def _typed(field: FormField, value: Any) -> Any:
    if field.type == "boolean":
        return value if isinstance(value, bool) else value in ("on", "true")
    if isinstance(value, str) and field.type != "string":
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return value
        if field.type == "integer" and number.is_integer():
            return int(number)
        return number
    if field.type == "string" and value == "" and not field.required:
        return None
    return value


def describe_answer(kind: str, answer: Any) -> str:
    """An answer as one line for people (the page's notices and its answered list)."""
    if answer is None:
        return ""
    if kind == "approve" and isinstance(answer, dict):
        data = cast("dict[str, Any]", answer)
        verdict = "approved" if data.get("approved") else "rejected"
        reason = str(data.get("reason") or "")
        return f"{verdict}: {reason}" if reason else verdict
    if isinstance(answer, list):
        return ", ".join(str(a) for a in cast("list[Any]", answer)) or "(none)"
    if isinstance(answer, dict):
        data = cast("dict[str, Any]", answer)
        return ", ".join(f"{k}: {v}" for k, v in data.items()) or "(empty)"
    return str(answer)
