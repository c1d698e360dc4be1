"""A tool's question to the user in the middle of its call (an MCP server's elicitation), and the answer.

An MCP server may ask, while one of its tools runs, for a few values ("form" mode: a flat object
whose fields are strings, numbers, booleans or choices) or for the user to visit an address
("url" mode: a sign-in, a payment). Chat's tools step asks it as a LangGraph interrupt whose value
is ``Elicitation.value()``; it is resumed with ``Elicited.record()``: ``{"action": "accept",
"content": {...}}``, ``{"action": "decline"}`` or ``{"action": "cancel"}``, the MCP result as it is.
Pure data: the terminal asks field by field (chatcli.ui.asking), ``--json`` reports the value,
``--resume`` and ``chat serve`` read an answer with ``answer_of``.

Everything here comes from a server chat does not control: its texts are kept as they came
(the terminal shows them with escapes made visible), bounded, and an answer is checked against
the fields before the server gets it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Callable, Literal

ACTIONS = ("accept", "decline", "cancel")
MAX_MESSAGE = 4000  # characters of a question's text kept (a server may send megabytes)
MAX_TEXT = 300  # characters of a field's title or description, or of a choice's label
MAX_FIELDS = 50  # fields of one question; a question with more is declined
MAX_CHOICES = 200  # choices of one field
MAX_VALUE = 10_000  # characters of one answered string
MAX_URL = 4000  # characters of an address to visit
MAX_NAME = 100  # characters of a field's name (the key its value is sent under)
MAX_SCHEMA = 200_000  # characters of a form's requested schema as JSON (kept with the thread while it waits)


def _iso(parse: Callable[[str], object], shape: str) -> Callable[[str], bool]:
    """A check that a text is of ``shape`` and that ``parse`` (a calendar's) takes it: not the week forms
    fromisoformat takes too, nor a 31st of February."""

    def fits(text: str) -> bool:
        try:
            parse(text)
        except ValueError:
            return False
        return bool(re.fullmatch(shape, text))

    return fits


# The string formats the MCP schema names, as chat checks them: a date must be one of the calendar's.
FORMATS: dict[str, Callable[[str], bool]] = {
    "email": lambda text: re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text) is not None,
    "uri": lambda text: re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*:\S+", text) is not None,
    "date": _iso(date.fromisoformat, r"\d{4}-\d{2}-\d{2}"),
    "date-time": _iso(
        datetime.fromisoformat, r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
    ),
}


class Unreadable(ValueError):
    """A question chat cannot ask (not the MCP schema's flat object, or too large): declined, said why."""


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    """A server's text for one line (a title, a label): bounded, its line breaks and tabs made spaces, so that it
    cannot draw lines of its own (a choice, an address) under it."""
    return " ".join(value[: limit * 2].split())[:limit] if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    """A number of the schema (a bound, a default), or None: not a number, or beyond what a float holds."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Field:
    """One value a form asks for: its ``kind`` (string, number, integer, boolean; "choice" one of ``choices``,
    "choices" any of them), the bounds (``low``/``high``: a number's, a string's length, how many choices), a
    ``format``."""

    name: str
    kind: str
    title: str = ""
    description: str = ""
    required: bool = False
    default: Any = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, label)
    low: float | None = None
    high: float | None = None
    format: str = ""

    @property
    def label(self) -> str:
        return self.title or self.name

    def describe(self) -> str:
        """What the field takes, in a few words: "integer, 1 to 12", "yes or no", "one of 3"."""
        told = {"boolean": "yes or no", "choice": "choose one", "choices": "choose any, separated by commas"}
        if self.kind in told:
            return told[self.kind]
        words = {"string": self.format or "text", "number": "number", "integer": "whole number"}[self.kind]
        low, high = self.low, self.high
        unit = " characters" if self.kind == "string" else ""
        if low is not None and high is not None:
            words += f", {low:g} to {high:g}{unit}"
        elif low is not None:
            words += f", at least {low:g}{unit}"
        elif high is not None:
            words += f", at most {high:g}{unit}"
        return words

    def check(self, value: Any) -> Any:
        """``value`` (as JSON has it) if it fits the field; ValueError saying why not."""
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if self.kind in ("number", "integer"):
            return self._check_number(value)
        if self.kind == "choice":
            if value not in [v for v, _ in self.choices]:
                raise ValueError("must be one of " + ", ".join(v for v, _ in self.choices[:10]))
            return value
        if self.kind == "choices":
            known = [v for v, _ in self.choices]
            if not isinstance(value, list) or any(not isinstance(v, str) or v not in known for v in value):
                raise ValueError("must be a list of " + ", ".join(known[:10]))
            chosen = list(dict.fromkeys(value))  # each once, and counted once
            self._within(len(chosen), " choices")
            return chosen
        return self._check_text(value)

    def _check_number(self, value: Any) -> int | float:
        """``check`` of a number or integer field."""
        if isinstance(value, bool) or (not isinstance(value, int) and _number(value) is None):  # an int: any size
            raise ValueError("must be a number")
        number: int | float = value
        if self.kind == "integer" and isinstance(number, float):
            if number != int(number):
                raise ValueError("must be a whole number")
            number = int(number)
        if isinstance(number, int) and number.bit_length() > 64:  # exact, as Python's ints are; never rounded
            raise ValueError("is too large")
        self._within(number, "")
        return number

    def _check_text(self, value: Any) -> str:
        """``check`` of a text field (of its format, if it has one)."""
        if not isinstance(value, str):
            raise ValueError("must be a text")
        if len(value) > MAX_VALUE:
            raise ValueError(f"must be at most {MAX_VALUE:,} characters")
        self._within(len(value), " characters")
        fits = FORMATS.get(self.format)
        if fits is not None and not fits(value):
            raise ValueError(f"is not {'an' if self.format[0] in 'aeiou' else 'a'} {self.format}")
        return value

    def _within(self, size: float, unit: str) -> None:
        if self.low is not None and size < self.low:
            raise ValueError(f"must be at least {self.low:g}{unit}")
        if self.high is not None and size > self.high:
            raise ValueError(f"must be at most {self.high:g}{unit}")

    def read(self, line: str) -> Any:
        """A typed line as the field's value (a choice by its number or its value; "y"/"n" for yes or no);
        ValueError saying why it does not fit."""
        text = line.strip()
        if self.kind == "boolean":
            if text.lower() in ("y", "yes", "true", "1"):
                return True
            if text.lower() in ("n", "no", "false", "0"):
                return False
            raise ValueError("must be y or n")
        if self.kind in ("number", "integer"):
            whole = self.kind == "integer" and text.lstrip("+-").isdigit()
            try:
                number: int | float = int(text) if whole else float(text)
            except (ValueError, OverflowError):
                raise ValueError("must be a number") from None
            return self.check(number)
        if self.kind == "choice":
            return self.check(self._choice(text))
        if self.kind == "choices":
            return self.check([self._choice(part.strip()) for part in text.split(",") if part.strip()])
        return self.check(line)

    def _choice(self, text: str) -> str:
        if text.isdigit() and 1 <= int(text) <= len(self.choices):
            return self.choices[int(text) - 1][0]
        return next((value for value, label in self.choices if text in (value, label)), text)


def _choices(spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A field's choices: ``enum`` (with ``enumNames``), or ``oneOf``/``anyOf`` of ``{"const", "title"}``."""
    if isinstance(spec.get("enum"), list):
        names: list[Any] = spec["enumNames"] if isinstance(spec.get("enumNames"), list) else []
        labels = [*names, *[None] * len(spec["enum"])]  # a label for each value, None where none is given
        found = [(v, _text(l) or _text(v)) for v, l in zip(spec["enum"], labels) if isinstance(v, str)]
    else:
        given = spec.get("oneOf") or spec.get("anyOf")
        options: list[Any] = given if isinstance(given, list) else []
        consts = [o for o in options if isinstance(o, dict) and isinstance(o.get("const"), str)]
        found = [(o["const"], _text(o.get("title")) or _text(o["const"])) for o in consts]
    if len(found) > MAX_CHOICES:
        raise Unreadable(f"a field has more than {MAX_CHOICES} choices")
    if any(len(value) > MAX_VALUE for value, _label in found):  # cut, it would not be the server's value
        raise Unreadable(f"a choice is longer than {MAX_VALUE:,} characters")
    return tuple(found)


def _plain(spec: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A property's own schema and whether it may be null (``anyOf: [{...}, {"type": "null"}]``, as pydantic
    writes an Optional)."""
    options = spec.get("anyOf")
    if isinstance(options, list) and not any(isinstance(o, dict) and "const" in o for o in options):
        kept = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]
        if len(kept) == 1:
            return {**{k: v for k, v in spec.items() if k != "anyOf"}, **kept[0]}, len(kept) < len(options)
    return spec, False


def read_field(name: str, spec: Any, required: bool) -> Field:
    """One property of a requested schema as a ``Field``; ``Unreadable`` if it is not of the MCP schema's kinds."""
    if len(name) > MAX_NAME:
        raise Unreadable(f"a field's name is longer than {MAX_NAME} characters")
    if not isinstance(spec, dict):
        raise Unreadable(f"field {name[:40]!r} has no schema")
    spec, nullable = _plain(spec)
    kind = spec.get("type")
    title, description = _text(spec.get("title")), _text(spec.get("description"))
    common: dict[str, Any] = {"title": title, "description": description, "required": required and not nullable}
    default = spec.get("default")  # offered only if it fits the field (read_fields: _fitting_default)
    if kind == "array":
        items = spec.get("items") if isinstance(spec.get("items"), dict) else {}
        choices = _choices(items)
        if not choices:
            raise Unreadable(f"field {name[:40]!r} is a list without choices")
        low, high = _number(spec.get("minItems")), _number(spec.get("maxItems"))
        return Field(name, "choices", choices=choices, low=low, high=high, default=default, **common)
    choices = _choices(spec)
    if choices or "enum" in spec or "oneOf" in spec:
        if not choices:
            raise Unreadable(f"field {name[:40]!r} has no choices chat can show")
        return Field(name, "choice", choices=choices, default=default, **common)
    if kind in ("number", "integer"):
        low, high = _number(spec.get("minimum")), _number(spec.get("maximum"))
        return Field(name, kind, low=low, high=high, default=default, **common)
    if kind == "boolean":
        return Field(name, "boolean", default=default, **common)
    if kind == "string":
        low, high = _number(spec.get("minLength")), _number(spec.get("maxLength"))
        form = spec.get("format") if spec.get("format") in FORMATS else ""
        text = _text(default, MAX_VALUE) or None  # on one line, as it is offered
        return Field(name, "string", low=low, high=high, default=text, format=form or "", **common)
    raise Unreadable(f"field {name[:40]!r} is of a kind chat cannot ask ({str(kind)[:20]})")


def read_fields(schema: Any) -> tuple[Field, ...]:
    """The fields of a form's requested schema (a flat object); ``Unreadable`` if it is not one."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties", {}), dict):
        raise Unreadable("its form is not an object of fields")
    properties = schema.get("properties") or {}
    if len(properties) > MAX_FIELDS:
        raise Unreadable(f"its form has {len(properties)} fields (chat asks at most {MAX_FIELDS})")
    listed = schema.get("required")
    required: list[Any] = listed if isinstance(listed, list) else []
    return tuple(_fitting_default(read_field(str(name), spec, name in required)) for name, spec in properties.items())


def _fitting_default(field: Field) -> Field:
    """``field`` without its default when the default does not fit the field (Enter would give what it refuses)."""
    if field.default is None:
        return field
    try:
        field.check(field.default)
    except ValueError:
        return replace(field, default=None)
    return field


@dataclass(frozen=True)
class Elicitation:
    """A question a tool's server asks while the call runs: its ``message``, the ``fields`` of a form or the
    ``url`` to visit; the call that asks (``call_id``, ``tool`` as chat shows it, ``server``); ``id``: the
    interrupt's, once it is one."""

    message: str
    call_id: str
    tool: str
    server: str | None = None
    fields: tuple[Field, ...] = ()
    url: str | None = None
    schema: Any = None  # the form's requested schema as the server sent it (for a client that draws its own)
    id: str | None = None

    @property
    def mode(self) -> str:
        return "url" if self.url is not None else "form"

    @property
    def fingerprint(self) -> str:
        """What was asked (the text, the address or the form), in a few characters: an answer carries it, so that
        it is never given to another question (a call run anew that asks something else)."""
        asked = json.dumps([self.message, self.url, self.schema], sort_keys=True, default=str)
        return hashlib.sha256(asked.encode()).hexdigest()[:16]

    @classmethod
    def asked(cls, params: dict[str, Any], call_id: str, tool: str, server: str | None) -> Elicitation:
        """The server's ``elicitation/create`` parameters (JSON) as a question; ``Unreadable`` if chat cannot ask it."""
        message = _text(params.get("message"), MAX_MESSAGE)
        if params.get("mode") == "url":
            url = params.get("url")
            if not isinstance(url, str) or not url.strip():
                raise Unreadable("it names no address")
            if any(character.isspace() or not character.isprintable() for character in url):
                raise Unreadable("its address holds spaces or control characters")  # shown one way, opened another
            if len(url) > MAX_URL:
                raise Unreadable(f"its address is longer than {MAX_URL:,} characters")
            return cls(message, call_id, tool, server, url=url)
        schema = params.get("requestedSchema")
        if len(json.dumps(schema, default=str)) > MAX_SCHEMA:
            raise Unreadable(f"its form is larger than {MAX_SCHEMA:,} characters")
        return cls(message, call_id, tool, server, read_fields(schema), schema=schema)

    def value(self) -> dict[str, Any]:
        """The interrupt's value: what ``--json`` reports and ``chat serve`` returns."""
        asked = {"url": self.url} if self.url is not None else {"requested_schema": self.schema}
        said = dict(type="elicitation", mode=self.mode, message=self.message, tool_call_id=self.call_id)
        return said | dict(tool=self.tool, server=self.server) | asked

    @classmethod
    def of(cls, value: Any, interrupt_id: str | None = None) -> Elicitation | None:
        """The question an interrupt's ``value`` is (None if it is no elicitation chat can ask)."""
        if not isinstance(value, dict) or value.get("type") != "elicitation":
            return None
        call_id, tool, server = value.get("tool_call_id"), value.get("tool"), value.get("server")
        if not isinstance(call_id, str) or not isinstance(tool, str) or not isinstance(server, (str, type(None))):
            return None
        params = {"message": value.get("message"), "mode": value.get("mode"), "url": value.get("url")}
        params["requestedSchema"] = value.get("requested_schema")
        try:
            asked = cls.asked(params, call_id, tool, server)
        except Unreadable:
            return None
        return replace(asked, id=interrupt_id)


@dataclass(frozen=True)
class Elicited:
    """The answer to an ``Elicitation``: "accept" (with the form's ``content``), "decline" or "cancel"; ``why``
    says, when nobody answered, why it was declined (shown, never sent)."""

    action: Literal["accept", "decline", "cancel"]
    content: dict[str, Any] | None = None
    why: str | None = None

    def record(self) -> dict[str, Any]:
        """The MCP result: ``{"action", "content"?}``."""
        given = self.action == "accept" and self.content is not None
        return {"action": self.action, **({"content": self.content} if given else {})}

    def resume(self, question: Elicitation) -> dict[str, Any]:
        """The interrupt's resume value: the result, and the ``question`` it answers (its fingerprint)."""
        return {**self.record(), "question": question.fingerprint}


# Why a question was declined when nobody could answer it.
NO_TERMINAL = "declined: there was no terminal to ask in"


def checked(content: Any, fields: tuple[Field, ...]) -> dict[str, Any]:
    """A form's answered ``content`` as the server gets it; ValueError naming the field that does not fit."""
    if not isinstance(content, dict):
        raise ValueError("the answer's content must be an object of the form's fields")
    known = {f.name: f for f in fields}
    unknown = [name for name in content if name not in known]
    if unknown:
        raise ValueError(f"the form has no field {unknown[0][:40]!r}")
    kept = {}
    for field in fields:
        if field.name not in content or content[field.name] is None:
            if field.required:
                raise ValueError(f"{field.label} is required")
            continue
        try:
            kept[field.name] = field.check(content[field.name])
        except ValueError as exc:
            raise ValueError(f"{field.label} {exc}") from None
    return kept


def answer_of(value: Any, question: Elicitation) -> Elicited:
    """A resume value (``--resume``, a request) as the answer to ``question``; ValueError saying what is wrong."""
    if isinstance(value, str) and value in ACTIONS:
        value = {"action": value}
    if not isinstance(value, dict) or value.get("action") not in ACTIONS:
        raise ValueError('an answer is {"action": "accept", "content": {...}}, {"action": "decline"} or "cancel"')
    action = value["action"]
    if action != "accept":
        return Elicited(action)
    if question.url is not None:
        return Elicited("accept")
    content = value.get("content")
    return Elicited("accept", checked({} if content is None else content, question.fields))
