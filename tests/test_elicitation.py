"""A server's question as chat reads it (chatcli.core.elicitation): every kind of field of the MCP schema, typed
lines and JSON answers checked against them, the bounds on what a server may send, and the calls kept waiting
for an answer (chatcli.tools.asking). Whole turns at every door: tests/test_mcp_asking.py."""

from __future__ import annotations

import asyncio
import os

import pytest

from chatcli.core.elicitation import (
    MAX_CHOICES,
    MAX_FIELDS,
    MAX_MESSAGE,
    MAX_NAME,
    MAX_URL,
    MAX_VALUE,
    Elicitation,
    Elicited,
    Unreadable,
    answer_of,
    read_fields,
)
from chatcli.core.interrupts import pending_of, read
from chatcli.tools.asking import KeptCalls
from tests import mcp_servers

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "title": "Name", "minLength": 2, "maxLength": 5},
        "email": {"type": "string", "format": "email"},
        "age": {"type": "integer", "minimum": 0, "maximum": 130},
        "ratio": {"type": "number"},
        "ok": {"type": "boolean", "default": True},
        "size": {"type": "string", "enum": ["s", "m"], "enumNames": ["Small", "Medium"]},
        "colour": {"type": "string", "oneOf": [{"const": "r", "title": "Red"}, {"const": "g", "title": "Green"}]},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b", "c"]}, "maxItems": 2},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "day": {"type": "string", "format": "date"},
        "at": {"type": "string", "format": "date-time"},
    },
    "required": ["name", "age", "note"],
}


def fields():
    return {f.name: f for f in read_fields(SCHEMA)}


def test_every_kind_of_field_of_the_mcp_schema_is_read():
    found = fields()
    assert [(n, f.kind) for n, f in found.items()] == [
        ("name", "string"), ("email", "string"), ("age", "integer"), ("ratio", "number"), ("ok", "boolean"),
        ("size", "choice"), ("colour", "choice"), ("tags", "choices"), ("note", "string"), ("day", "string"),
        ("at", "string"),
    ]  # fmt: skip
    assert found["size"].choices == (("s", "Small"), ("m", "Medium"))
    assert found["colour"].choices == (("r", "Red"), ("g", "Green"))
    assert found["name"].required and found["age"].required and not found["email"].required
    assert not found["note"].required  # required, but it may be null: pydantic's Optional
    assert found["age"].describe() == "whole number, 0 to 130" and found["name"].describe() == "text, 2 to 5 characters"


@pytest.mark.parametrize(
    "name, line, value",
    [
        ("name", "Ada", "Ada"),
        ("email", "ada@example.org", "ada@example.org"),
        ("age", "36", 36),
        ("ratio", "0.5", 0.5),
        ("ok", "n", False),
        ("ok", "yes", True),
        ("size", "2", "m"),
        ("size", "Small", "s"),
        ("colour", "g", "g"),
        ("tags", "1, c", ["a", "c"]),
        ("day", "2028-02-29", "2028-02-29"),
        ("at", "2026-12-24T19:30:00Z", "2026-12-24T19:30:00Z"),
        ("at", "2026-12-24 19:30+01:00", "2026-12-24 19:30+01:00"),
    ],
)
def test_a_typed_line_becomes_the_field_s_value(name, line, value):
    assert fields()[name].read(line) == value


@pytest.mark.parametrize(
    "name, line, why",
    [
        ("name", "A", "must be at least 2 characters"),
        ("name", "Adalbert", "must be at most 5 characters"),
        ("email", "ada", "is not an email"),
        ("age", "old", "must be a number"),
        ("age", "36.5", "must be a whole number"),
        ("age", "200", "must be at most 130"),
        ("ratio", "nan", "must be a number"),
        ("ok", "perhaps", "must be y or n"),
        ("day", "2026-13-45", "is not a date"),
        ("day", "2026-02-29", "is not a date"),
        ("day", "2026-W52-1", "is not a date"),
        ("day", "tomorrow", "is not a date"),
        ("at", "2026-12-24T25:00", "is not a date-time"),
        ("at", "2026-12-24", "is not a date-time"),
        ("size", "xl", "must be one of s, m"),
        ("size", "3", "must be one of s, m"),
        ("tags", "a, b, c", "must be at most 2 choices"),
        ("tags", "a, z", "must be a list of a, b, c"),
    ],
)
def test_a_line_that_does_not_fit_says_why(name, line, why):
    with pytest.raises(ValueError) as caught:
        fields()[name].read(line)
    assert str(caught.value) == why


def test_a_json_answer_is_checked_field_by_field():
    question = Elicitation.asked({"message": "m", "requestedSchema": SCHEMA}, "c1", "srv:tool", "srv")
    good = {"action": "accept", "content": {"name": "Ada", "age": 36, "tags": ["a", "a"], "note": None}}
    assert answer_of(good, question) == Elicited("accept", {"name": "Ada", "age": 36, "tags": ["a"]})
    assert answer_of("decline", question).record() == {"action": "decline"}
    assert answer_of({"action": "cancel", "content": {"x": 1}}, question).record() == {"action": "cancel"}
    for wrong, why in [
        ({"action": "accept", "content": {"age": 3}}, "Name is required"),
        ({"action": "accept", "content": {"name": "Ada", "age": True}}, "age must be a number"),
        ({"action": "accept", "content": {"name": "Ada", "age": 3, "extra": 1}}, "the form has no field 'extra'"),
        ({"action": "accept", "content": []}, "the answer's content must be an object"),
        ({"action": "yes"}, 'an answer is {"action": "accept"'),
        ("Paris", 'an answer is {"action": "accept"'),
    ]:
        with pytest.raises(ValueError, match=why.replace("(", r"\(").replace("{", r"\{")):
            answer_of(wrong, question)


@pytest.mark.parametrize(
    "schema, why",
    [
        ({"type": "object", "properties": {"a": {"type": "object"}}}, "of a kind chat cannot ask"),
        ({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}}, "without choices"),
        ({"type": "object", "properties": {"a": "text"}}, "has no schema"),
        ({"type": "object", "properties": {f"f{n}": {"type": "string"} for n in range(MAX_FIELDS + 1)}}, "fields"),
        ({"type": "object", "properties": {"a": {"type": "string", "enum": list(map(str, range(MAX_CHOICES + 1)))}}},
         "choices"),
        ("a form", "not an object of fields"),
        # Malformed as a server may send it: declined with why, never a crash of the turn.
        ({"type": "object", "properties": {"a": {"type": "string", "oneOf": 5}}}, "no choices chat can show"),
        ({"type": "object", "properties": {"a": {"type": "array", "items": {"anyOf": 7}}}}, "without choices"),
        ({"type": "object", "properties": {"n" * (MAX_NAME + 1): {"type": "string"}}}, "name is longer"),
        ({"type": "object", "properties": {"a": {"type": "string", "enum": ["v" * (MAX_VALUE + 1)]}}},
         "a choice is longer"),
        ({"type": "object", "properties": {f"f{n}": {"type": "string", "description": "d" * 5000}
                                           for n in range(MAX_FIELDS)}}, "larger than"),
    ],
)  # fmt: skip
def test_a_question_chat_cannot_ask_is_refused_with_why(schema, why):
    with pytest.raises(Unreadable, match=why):
        Elicitation.asked({"message": "m", "requestedSchema": schema}, "c", "t", None)


def test_what_a_server_sends_is_bounded_and_a_url_is_kept_whole_or_refused():
    long = Elicitation.asked({"message": "x" * (MAX_MESSAGE * 3), "requestedSchema": {}}, "c", "t", None)
    assert len(long.message) == MAX_MESSAGE and long.fields == ()
    url = "https://example.org/" + "a" * 100
    assert Elicitation.asked({"mode": "url", "message": "go", "url": url}, "c", "t", None).url == url
    with pytest.raises(Unreadable, match="longer"):
        Elicitation.asked({"mode": "url", "message": "go", "url": "https://x/" + "a" * MAX_URL}, "c", "t", None)
    with pytest.raises(Unreadable, match="no address"):
        Elicitation.asked({"mode": "url", "message": "go"}, "c", "t", None)


def test_a_malformed_part_a_field_can_do_without_is_ignored():
    schema = {"type": "object", "properties": {"a": {"type": "string", "anyOf": 5, "minLength": 10**400}}}
    (field,) = read_fields(schema)
    assert (field.kind, field.choices, field.low) == ("string", (), None)


@pytest.mark.parametrize(
    "url",
    [
        "https://bank.example\n.evil.example/",
        "https://bank.example .evil/",
        "https://a\tb/",
        "https://bank.example\x1b[2K/",
        "https://bank.example\u2028x/",
    ],
)
def test_an_address_that_would_be_shown_one_way_and_opened_another_is_refused(url):
    with pytest.raises(Unreadable, match="spaces or control characters"):
        Elicitation.asked({"mode": "url", "message": "go", "url": url}, "c", "t", None)


def test_a_server_s_texts_for_one_line_stay_on_one_line():
    """A title, a description or a label cannot draw lines of their own (a fake choice, a fake address)."""
    schema = {
        "type": "object",
        "properties": {
            "a": {
                "type": "string",
                "title": "size\n  3. free upgrade",
                "description": "pick\r\n  address: https://x",
                "enum": ["s", "m\nx"],
                "enumNames": ["Small\n  2. Medium"],
            }
        },
    }
    (field,) = Elicitation.asked({"message": "m", "requestedSchema": schema}, "c", "t", None).fields
    assert field.title == "size 3. free upgrade" and field.description == "pick address: https://x"
    assert field.choices == (("s", "Small 2. Medium"), ("m\nx", "m x"))  # the value is the server's own


@pytest.mark.parametrize(
    "spec, answer, kept",
    [
        ({"type": "integer"}, 10**400, "is too large"),
        ({"type": "integer"}, 2**60 + 1, 2**60 + 1),  # exact, never rounded through a float
        ({"type": "integer", "maximum": 10**400}, 5, 5),  # a bound beyond a float's is no bound
        ({"type": "number"}, 1e308, 1e308),
        ({"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 2}, ["a", "a"], "at least 2 choices"),
        ({"type": "array", "items": {"enum": ["a", "b"]}}, [1], "must be a list of a, b"),
    ],
)
def test_an_answer_s_numbers_and_choices_are_checked_exactly(spec, answer, kept):
    """From --resume or chat serve: one line saying why (exit 2, a 400), never an overflow."""
    question = Elicitation.asked(
        {"message": "m", "requestedSchema": {"type": "object", "properties": {"x": spec}}}, "c", "t", None
    )
    if isinstance(kept, str) and not isinstance(answer, str):
        with pytest.raises(ValueError, match=kept):
            answer_of({"action": "accept", "content": {"x": answer}}, question)
    else:
        assert answer_of({"action": "accept", "content": {"x": answer}}, question).content == {"x": kept}


@pytest.mark.parametrize("line", ["inf", "-inf", "1e400", "nan", "9" * 400 + ".5"])
def test_a_typed_number_beyond_a_float_says_why(line):
    for kind in ("integer", "number"):
        (field,) = read_fields({"type": "object", "properties": {"x": {"type": kind}}})
        with pytest.raises(ValueError, match="must be a number"):
            field.read(line)


def test_a_default_that_does_not_fit_its_field_is_not_offered():
    """Enter takes the default shown: one the field would refuse (99 of at most 12) is not shown nor given."""
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "maximum": 12, "default": 99},
            "m": {"type": "integer", "maximum": 12, "default": 7},
        },
    }
    found = {f.name: f for f in read_fields(schema)}
    assert found["n"].default is None and found["m"].default == 7


def test_an_answer_carries_the_question_it_answers():
    asked = Elicitation.asked({"message": "Pay $1?", "requestedSchema": {"type": "object"}}, "c", "t", None)
    other = Elicitation.asked({"message": "Pay $1,000?", "requestedSchema": {"type": "object"}}, "c", "t", None)
    assert asked.fingerprint != other.fingerprint
    (pending,) = pending_of([{"id": "i-1", "value": asked.value()}])
    assert pending.elicitation is not None and pending.elicitation.fingerprint == asked.fingerprint  # as stored
    assert Elicited("decline").resume(asked) == {"action": "decline", "question": asked.fingerprint}
    assert Elicited("decline").record() == {"action": "decline"}  # what the server gets


def test_the_interrupt_value_reads_back_as_the_same_question():
    asked = Elicitation.asked({"message": "Which?", "requestedSchema": SCHEMA}, "call-7", "srv:tool", "srv")
    (pending,) = pending_of([{"id": "i-1", "value": asked.value()}])
    assert pending.shape == "elicitation" and not pending.is_approval and pending.id == "i-1"
    assert pending.elicitation is not None and pending.elicitation.fields == asked.fields
    assert pending.elicitation.id == "i-1" and pending.elicitation.tool == "srv:tool"
    assert read({"type": "elicitation", "message": "x"}).shape == "value"  # not one: asked as any interrupt is


async def test_a_call_kept_waiting_is_cancelled_when_no_answer_comes_in_time():
    kept = KeptCalls(wait=0.2)
    cancelled = asyncio.Event()

    async def work(ask, tell):
        try:
            return await ask({"message": "?"})
        except asyncio.CancelledError:
            cancelled.set()
            raise

    call, fresh = kept.take("t:c", work)
    assert fresh and await call.question(0) == {"message": "?"}
    kept.waiting("t:c")
    await asyncio.wait_for(cancelled.wait(), 5)
    assert "t:c" not in kept.calls
    again, fresh = kept.take("t:c", work)  # asked again later: the call starts anew
    assert fresh and again is not call
    await kept.aclose()
    assert again.task.cancelled()


async def test_an_answer_reaches_the_kept_call_once_and_its_result_comes_back():
    kept = KeptCalls()

    async def work(ask, tell):
        first = await ask({"n": 1})
        second = await ask({"n": 2})
        return [first, second]

    call, _ = kept.take("k", work)
    assert await call.question(0) == {"n": 1}
    call.give(0, {"action": "decline"})
    same, fresh = kept.take("k", work)
    assert same is call and not fresh
    call.give(0, {"action": "cancel"})  # a replay of an answer given before: nothing happens
    assert await call.question(1) == {"n": 2}
    call.give(1, {"action": "accept", "content": {}})
    assert await call.task == [{"action": "decline"}, {"action": "accept", "content": {}}]
    assert await call.question(2) is None  # the call ended: no more questions


@pytest.mark.parametrize("era", ["2025", "2026"])
async def test_a_question_while_two_calls_of_one_server_run_is_its_call_s_or_declined_and_logged(tmp_path, era):
    """Which call asks is not in the protocol before 2026-07-28: with two running, nobody's user could be told apart
    (declined). At 2026-07-28 a question comes with its call's answer: each call's user is asked its own."""
    from pathlib import Path

    from chatcli.tools.mcp.config import parse_servers
    from chatcli.tools.mcp.server import McpServer

    script = Path(__file__).parent / "mcp" / ("asking.py" if era == "2025" else "asking_modern.py")
    (spec,) = parse_servers({"mcpServers": {"asking": mcp_servers.stdio(script)}}, "test")
    server = McpServer(spec, tmp_path)
    asked: list[dict] = []

    async def ask(params):
        asked.append(params)
        return {"action": "accept", "content": {"name": "Ada"}}

    try:
        alone = await server.call_tool("twice", {}, ask=ask)  # one call: its questions are its own
        assert asked and "decline" not in alone.content[0].text, alone
        asked.clear()
        both_asked = asyncio.Event()

        async def ask_for(city: str):  # each call's own user; each answers once both calls have asked
            async def ask(params):
                asked.append(params)
                if len(asked) == 2:
                    both_asked.set()
                await both_asked.wait()
                return {
                    "action": "accept",
                    "content": {"party": 2 if city == "Oslo" else 3, "day": "2026-12-24", "confirm": True},
                }

            return ask

        both = await asyncio.gather(
            server.call_tool("book", {"city": "Oslo"}, ask=await ask_for("Oslo")),
            server.call_tool("book", {"city": "Rome"}, ask=await ask_for("Rome")),
        )
        said = [r.content[0].text for r in both]
        if era == "2025":
            assert said == ["book in Oslo: decline", "book in Rome: decline"] and not asked
            assert "2 of its calls run at once" in (tmp_path / "asking.log").read_text()
        else:
            assert sorted(q["message"] for q in asked) == [
                "Booking a table in Oslo: for how many, and when?",
                "Booking a table in Rome: for how many, and when?",
            ]
            assert said[0].startswith('book in Oslo: accept {"party":2') and said[1].startswith(
                'book in Rome: accept {"party":3'
            ), said
    finally:
        await server.halt(final=True)


def test_an_address_opens_only_in_a_desktop_s_browser_and_only_a_web_one(tmp_path, monkeypatch):
    """On a bare terminal (no $DISPLAY, no $BROWSER) Python's webbrowser would start a console browser inside
    chat's terminal, mid-question: nothing is started, and the user is told to go there. A browser named by
    $BROWSER opens an http(s) address and nothing else (javascript:, file:)."""
    import webbrowser

    from chatcli.tools.browser import open_in_browser

    opened = tmp_path / "opened"
    for name in ("lynx", "w3m", "www-browser", "recorder"):
        (tmp_path / name).write_text(f'#!/bin/sh\necho "$0 $1" >> {opened}\n')
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    for name in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # found afresh, on this PATH
    monkeypatch.setattr(webbrowser, "_browsers", {})
    assert open_in_browser("https://bank.example/") == "no browser here: open the address above yourself"
    assert not opened.exists()

    monkeypatch.setenv("BROWSER", str(tmp_path / "recorder"))
    monkeypatch.setattr(webbrowser, "_tryorder", None)
    monkeypatch.setattr(webbrowser, "_browsers", {})
    for address in ("javascript:alert(1)", "file:///etc/passwd"):
        assert open_in_browser(address) == "only an http or https address is opened; go there yourself"
    assert not opened.exists()
    assert open_in_browser("https://bank.example/") is None
    assert opened.read_text() == f"{tmp_path / 'recorder'} https://bank.example/\n"


@pytest.mark.parametrize("action", ["accept", "decline"])
async def test_a_call_refused_until_an_address_is_opened_asks_for_it_then_runs_again(tmp_path, action):
    """MCP's -32042 (URL_ELICITATION_REQUIRED): the call's error names addresses the user must open first (a
    sign-in). It is asked as the server's own URL question is; accepted, the call is made again and runs; declined,
    the call's error says which address it needed, and it is not made again."""
    from pathlib import Path

    from chatcli.tools.mcp.calls import NotOpened
    from chatcli.tools.mcp.config import parse_servers
    from chatcli.tools.mcp.server import McpServer

    script = Path(__file__).parent / "mcp" / "opening.py"
    (spec,) = parse_servers({"mcpServers": {"opening": mcp_servers.stdio(script)}}, "test")
    server = McpServer(spec, tmp_path)
    asked: list[dict] = []

    async def ask(params):
        asked.append(params)
        return {"action": action}

    try:
        if action == "accept":
            result = await server.call_tool("read_files", {}, ask=ask)
            assert [part.text for part in result.content] == ["read 3 files (call 2)"]
        else:
            with pytest.raises(NotOpened, match=r"needs https://example.com/authorize\?client=chat opened first"):
                await server.call_tool("read_files", {}, ask=ask)
        (question,) = asked
        assert question["mode"] == "url" and question["url"] == "https://example.com/authorize?client=chat"
        assert question["message"] == "Sign in to Example to let the tool read your files"
    finally:
        await server.halt(final=True)
