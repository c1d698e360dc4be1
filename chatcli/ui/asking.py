"""A tool's question to the user (an MCP server's elicitation), asked in the terminal as chat asks its own.

The question shows who asks (the tool, its server) and the server's text, escapes made visible.
One key answers first: y to answer (a form) or to go to the address yourself (a URL), o to open
the address in the browser, n (or Enter) declines; Ctrl-C or Ctrl-D cancels. A form is then asked
a field a line, its type checked and asked again until it fits: Enter alone takes the default
(or leaves an optional field out), a choice is typed by its number or its value, several
separated by commas; Ctrl-C or Ctrl-D at any field cancels the whole question. An address is
opened only when o is pressed, only an http or https one, and never without showing it first.
"""

from __future__ import annotations

from typing import Any, Protocol

from chatcli.core.elicitation import Elicitation, Elicited, Field
from chatcli.text import neutralise

FORM = "Answer it? [y]es / [N]o, decline / Ctrl-C cancels: "
FORM_KEYS = "press y to answer, n (or Enter) to decline, Ctrl-C to cancel"
URL = "Go there? [o]pen in the browser / [y]es, I open it myself / [N]o, decline / Ctrl-C cancels: "
URL_KEYS = "press o to open it, y if you open it yourself, n (or Enter) to decline, Ctrl-C to cancel"
STOPPED = "\x03"  # what the approver's key and line questions give for Ctrl-C and Ctrl-D


class Asker(Protocol):
    """Where the question is asked: the terminal's approver (chatcli.ui.approval.TerminalApprover)."""

    def say(self, text: str, warn: bool = False) -> None: ...

    def drop_typeahead(self) -> None: ...

    async def drop_the_rest(self) -> None: ...

    async def key(self, question: str) -> str: ...

    async def line(self, question: str, default: str = "") -> str: ...


def shown(question: Elicitation) -> list[str]:
    """The lines that show the question (escapes and other control characters made visible)."""
    where = f" (MCP server {question.server})" if question.server else ""
    lines = [f"? {question.tool}{where} asks:"]
    lines += ["  " + neutralise(line) for line in (question.message or "(no text)").splitlines() or [""]]
    if question.url is not None:
        lines.append("  address: " + neutralise(question.url))
    return lines


def field_prompt(field: Field) -> str:
    """The line a field is asked with: "party size (whole number, 1 to 12) [2]: "."""
    words = field.describe() + (", required" if field.required else "")
    default = _default_text(field)
    return neutralise(f"{field.label} ({words})" + (f" [{default}]" if default else "")) + ": "


def _default_text(field: Field) -> str:
    if field.default is None:
        return ""
    if field.kind == "boolean":
        return "y" if field.default else "n"
    return ", ".join(str(v) for v in field.default) if isinstance(field.default, list) else str(field.default)


async def ask(approver: Asker, question: Elicitation) -> Elicited:
    """Ask ``question`` on ``approver``'s terminal (a chatcli.ui.approval.TerminalApprover): the answer."""
    for line in shown(question):
        approver.say(line)
    approver.drop_typeahead()
    answered = await (_url(approver, question) if question.url is not None else _form(approver, question))
    await approver.drop_the_rest()
    return answered


async def _first_key(approver: Asker, question: str, keys: str, answers: tuple[str, ...]) -> str | Elicited:
    """The key pressed to ``question``, one of ``answers``, or what a refusal means: Ctrl-C cancels, n (or Enter)
    declines; at any other key ``keys`` is said, and it is asked again."""
    while True:
        key = await approver.key(question)
        if key == STOPPED:
            return Elicited("cancel")
        if key in ("", "n"):
            return Elicited("decline")
        if key in answers:
            return key
        approver.say(keys, warn=True)


async def _url(approver: Asker, question: Elicitation) -> Elicited:
    key = await _first_key(approver, URL, URL_KEYS, ("y", "o"))
    if key == "o":  # opened when it is a web address and there is a browser; else said why not
        from chatcli.tools.browser import open_in_browser

        if (why := open_in_browser(question.url or "")) is not None:
            approver.say(why, warn=True)
    return key if isinstance(key, Elicited) else Elicited("accept")


async def _form(approver: Asker, question: Elicitation) -> Elicited:
    key = await _first_key(approver, FORM, FORM_KEYS, ("y",))
    if isinstance(key, Elicited):
        return key
    content: dict[str, Any] = {}
    for field in question.fields:
        value = await _value(approver, field)
        if value is STOPPED:
            return Elicited("cancel")
        if value is not None:
            content[field.name] = value
    return Elicited("accept", content)


async def _value(approver: Asker, field: Field) -> Any:
    """The field's value as typed (None: left out), or STOPPED."""
    if field.description:
        approver.say("  " + neutralise(field.description))
    for number, (value, label) in enumerate(field.choices, 1):
        approver.say(neutralise(f"  {number}. {label}" + (f" ({value})" if label != value else "")))
    while True:
        line = await approver.line(field_prompt(field))
        if line == STOPPED:
            return STOPPED
        if not line.strip():
            if field.default is not None:
                return field.default
            if not field.required:
                return None
            approver.say(f"{neutralise(field.label)} is required (Ctrl-C cancels the question)", warn=True)
            continue
        try:
            return field.read(line)
        except ValueError as exc:
            approver.say(f"{neutralise(field.label)} {exc}: type it again", warn=True)
