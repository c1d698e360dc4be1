"""Tool calls the server or the model got wrong, and approvals that must not be fooled.

Repeated, empty and missing call ids; arguments that are not JSON, or sent as an object; tool-call
deltas no reading makes sense of; an approval block that could hide the end of a command or sit
in a file while the question is on the screen; a batch of calls refused with one key. Through the
real OpenAI client path (the fake server) and the real approval code, its terminal replaced by a
list of answers. After every case the thread stays valid: each later request keeps OpenAI's rule
(every call answered, ids present and distinct).
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import Raw, Reply, delta_chunk, protocol_error, sse, tool_calls
from tests.helpers import Captured, assert_one_error_line, chat, stored
from tests.test_reliability import db_of

REFUSED = "not run: the user refused this call"
REFUSED_REST = "not run: the user refused this call and every later call of this reply at once"


def tool_messages(body: dict) -> list[dict]:
    return [m for m in body["messages"] if m["role"] == "tool"]


def assert_valid(server: Any) -> None:
    """Every request kept OpenAI's rules: each call answered, and every call id there and distinct."""
    for number, body in enumerate(server.requests):
        assert protocol_error(body["messages"]) is None, (number, body["messages"])
        for message in body["messages"]:
            ids = [call.get("id") for call in message.get("tool_calls") or []]
            assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids), (number, message)


def assert_stored_agrees(messages: list[Any]) -> None:
    """The stored calls and their stored results carry the same ids, each once."""
    calls = [c["id"] for m in messages if m.type == "ai" for c in [*m.tool_calls, *m.invalid_tool_calls]]
    results = [m.tool_call_id for m in messages if m.type == "tool"]
    assert calls == results and len(set(calls)) == len(calls), (calls, results)


def streamed(*heads: dict, text: str = "") -> Raw:
    """A reply whose tool-call deltas are written exactly as given, one chunk each."""
    parts: list[bytes | float] = [sse(delta_chunk({"role": "assistant", "content": text}))] if text else []
    parts += [sse(delta_chunk({"role": "assistant", "content": None, "tool_calls": [head]})) for head in heads]
    parts += [sse(delta_chunk({}, finish_reason="tool_calls")), b"data: [DONE]\n\n"]
    return Raw(parts)


@pytest.fixture(autouse=True)
def no_pause_after_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The approval question waits a moment after each answer to drop the rest of what was typed
    with it (the "es⏎" of "yes⏎"): keys at a terminal. Here the answers come from a list."""
    from chatcli.ui import approval

    monkeypatch.setattr(approval, "AFTER_ANSWER", 0)


def approver(conv: Any, answers: list[str], terminal: Any = None, err: Any = None) -> tuple[Any, list[str], Any]:
    """The real approval question on ``conv``, answered from ``answers``; it, the questions asked, the terminal."""
    from chatcli.ui.approval import TerminalApprover
    from chatcli.ui.output import PlainOutput

    terminal = terminal if terminal is not None else Captured(tty=True)
    asked: list[str] = []
    output = PlainOutput(io.StringIO(), err if err is not None else io.StringIO())
    approve = output.approver = TerminalApprover(output, terminal=terminal)

    async def line(question: str, default: str = "") -> str:
        asked.append(question)
        return answers.pop(0)

    approve.line = approve.key = line  # type: ignore[method-assign]
    conv.listener = output
    return approve, asked, terminal


# --------------------------------------------------------------------------- ids


async def test_two_calls_with_one_id_are_each_decided_and_a_refused_one_never_runs(server, settings, tmp_path):
    from tests.helpers import a_thread

    server.queue(
        tool_calls(("shell", {"command": "touch A"}, "call_1"), ("shell", {"command": "echo benign"}, "call_1")),
        Reply("done"),
    )
    async with a_thread(replace(settings, tools=("shell",)), "dup") as conv:
        _, asked, _ = approver(conv, ["n", "y"])
        await conv.send("go")
        kept = await conv.messages()
    assert len(asked) == 2
    assert not (tmp_path / "A").exists(), "the refused call ran"
    results = tool_messages(server.requests[1])
    assert [r["content"] for r in results] == [REFUSED, "benign\n[exit code 0]"]
    assert_valid(server)
    assert_stored_agrees(kept)


@pytest.mark.parametrize("head", [
    {"index": 0, "id": "", "type": "function", "function": {"name": "shell", "arguments": '{"command": "echo no-id"}'}},
    {"index": 0, "type": "function", "function": {"name": "shell", "arguments": '{"command": "echo no-id"}'}},
], ids=["empty", "missing"])  # fmt: skip
def test_a_call_without_an_id_gets_one_and_the_thread_stays_valid(server, chat_env, head):
    server.queue(streamed(head), Reply("ran it"), Reply("later, no tools"), Reply("later, tools"))
    run = chat(chat_env, "--tools", "shell", "--yes", "-t", "noid", "go")
    assert run.code == 0 and run.out == "ran it\n", run
    assert tool_messages(server.requests[1])[0]["content"] == "no-id\n[exit code 0]"
    assert chat(chat_env, "--no-tools", "-t", "noid", "again").code == 0  # was a 400 on every later request
    assert chat(chat_env, "--tools", "shell", "-t", "noid", "and again").code == 0
    assert len(server.requests) == 4
    assert_valid(server)
    assert_stored_agrees(stored(db_of(chat_env), "noid"))


def test_a_thread_stored_with_calls_without_ids_is_mended_when_sent(server, chat_env, settings):
    """A thread kept before ids were given: its calls are sent with ids, each closed as interrupted."""
    import asyncio

    from langchain_core.messages import AIMessage, HumanMessage

    from chatcli.backends.own.graph import MODEL_NODE
    from tests.helpers import a_thread

    async def old_thread() -> None:
        async with a_thread(settings, "old") as conv:
            from langgraph.graph import START

            await conv.app.aupdate_state(conv.config, {"messages": [HumanMessage("run")]}, as_node=START)
            calls = [
                {"name": "shell", "args": {"command": "echo a"}, "id": ""},
                {"name": "shell", "args": {"command": "echo b"}, "id": ""},
            ]
            await conv.app.aupdate_state(
                conv.config, {"messages": [AIMessage("", tool_calls=calls)]}, as_node=MODEL_NODE
            )

    asyncio.run(old_thread())
    server.queue(Reply("fine"))
    run = chat(chat_env, "--db", settings.db, "--no-tools", "-t", "old", "what now?")
    assert run.code == 0, run
    assert_valid(server)
    assert [r["content"].split(":")[0] for r in tool_messages(server.requests[0])] == ["interrupted", "interrupted"]


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("arguments", [
    '{"command": "touch PWNED',  # cut short: LangChain would read {"command": "touch PWNED"}
    '{"command": "touch PWNED"} trailing words',
    '{"command": "touch PWNED"}{"command": "rm -rf x"}',
    "command=touch PWNED",
    '["touch PWNED"]',
], ids=["cut", "trailing", "two-objects", "not-json", "a-list"])  # fmt: skip
def test_arguments_that_are_not_one_json_object_never_run(server, chat_env, tmp_path, arguments):
    server.queue(tool_calls(("shell", arguments)), Reply("sorry"), Reply("next"))
    run = chat(chat_env, "--tools", "shell", "--yes", "-t", "args", "go")
    assert run.code == 0, run
    assert not (tmp_path / "PWNED").exists(), "a call ran with arguments the model did not write"
    (result,) = tool_messages(server.requests[1])
    assert result["content"].startswith("error: arguments were not valid JSON: "), result
    assert chat(chat_env, "-t", "args", "next").code == 0
    assert_valid(server)
    assert_stored_agrees(stored(db_of(chat_env), "args"))


def test_empty_arguments_are_no_arguments(server, chat_env, tmp_path):
    (tmp_path / "listed-here.txt").write_text("x")
    server.queue(tool_calls(("list_directory", "")), Reply("done"))
    run = chat(chat_env, "--tools", "files", "--yes", "go", cwd=tmp_path)
    assert run.code == 0 and run.out == "done\n", run
    assert "listed-here.txt" in tool_messages(server.requests[1])[0]["content"]
    assert_valid(server)


def test_arguments_sent_as_an_object_are_the_arguments(server, chat_env):
    head = {
        "index": 0,
        "id": "c1",
        "type": "function",
        "function": {"name": "shell", "arguments": {"command": "echo from-an-object"}},
    }
    server.queue(streamed(head), Reply("done"))
    run = chat(chat_env, "--tools", "shell", "--yes", "go")
    assert run.code == 0 and run.out == "done\n", run
    assert tool_messages(server.requests[1])[0]["content"] == "from-an-object\n[exit code 0]"
    assert_valid(server)


@pytest.mark.parametrize("call", [
    {"index": "zero", "id": "c1", "function": {"name": "shell", "arguments": "{}"}},
    {"index": 0.5, "id": "c1", "function": {"name": "shell", "arguments": "{}"}},
    {"id": "c1", "function": {"name": "shell", "arguments": "{}"}},
    {"index": 0, "id": "c1", "function": {"name": "shell", "arguments": ["echo"]}},
    {"index": 0, "id": "c1", "function": "shell"},
    {"index": 0, "id": ["c1"], "function": {"name": "shell", "arguments": "{}"}},
    "shell",
], ids=["index-text", "index-fraction", "no-index", "arguments-list", "function-text", "id-list", "call-text"])  # fmt: skip
def test_a_malformed_tool_call_delta_is_one_line_and_exit_4(server, chat_env, call):
    server.queue(streamed(call, text="Let me see."), Reply("next answer"))
    run = chat(chat_env, "--tools", "shell", "--yes", "-t", "bad", "go")
    line = assert_one_error_line(run, 4)
    assert "sent a malformed stream: a tool call" in line, line
    after = chat(chat_env, "--tools", "shell", "-t", "bad", "again")
    assert after.code == 0 and after.out == "next answer\n", after
    assert_valid(server)


# --------------------------------------------------------------------------- a batch refused at once


@pytest.mark.parametrize("stop", ["q", "\x03"], ids=["q", "ctrl-c"])
async def test_one_key_refuses_the_rest_of_the_batch(server, settings, tmp_path, stop):
    from tests.helpers import a_thread

    calls = [("shell", {"command": f"touch f{i}"}) for i in range(5)]
    server.queue(tool_calls(*calls), Reply("stopped"))
    async with a_thread(replace(settings, tools=("shell",)), "batch") as conv:
        _, asked, _ = approver(conv, ["y", stop])
        result = await conv.send("make five files")
        assert_stored_agrees(await conv.messages())
    assert result.text == "stopped"
    assert len(asked) == 2, "asked about calls after the batch was refused"
    assert sorted(p.name for p in tmp_path.glob("f*")) == ["f0"]
    assert [r["content"] for r in tool_messages(server.requests[1])] == ["[exit code 0]"] + [REFUSED_REST] * 4
    assert_valid(server)


@pytest.mark.slow  # a thousand calls
async def test_a_thousand_calls_are_refused_with_one_answer(server, settings, tmp_path):
    from tests.helpers import a_thread

    server.queue(tool_calls(*[("shell", {"command": f"touch f{i}"}) for i in range(1000)], split=1), Reply("ok"))
    # Putting a thousand calls' chunks together is LangChain's work once the reply is whole, seconds of it on a busy
    # machine, which the stall clock (the test's 5 s) counts as the server's: the clock is not what this test is about.
    async with a_thread(replace(settings, tools=("shell",), timeout=60.0), "many") as conv:
        _, asked, _ = approver(conv, ["q"])
        await conv.send("go")
    assert len(asked) == 1 and not list(tmp_path.glob("f*"))
    assert len(tool_messages(server.requests[1])) == 1000
    assert_valid(server)


# --------------------------------------------------------------------------- the block shows what runs


HIDING = {
    "blanks": "ls" + " " * 300 + "; touch PWNED",
    "blank-lines": "echo hello\n\n\n\n\n\ntouch PWNED",
    "long-line": "echo " + "a" * 500 + "; touch PWNED",
    "many-lines": "\n".join(f"echo {i}" for i in range(50)) + "\ntouch PWNED",
    "tabs": "ls" + "\t" * 60 + "; touch PWNED",
    "wide-blanks": "ls" + "\u3000" * 60 + "; touch PWNED",
    **{f"break-{ord(c):x}": f"echo hello{c * 6}touch PWNED" for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\r"},
}


@pytest.mark.parametrize("command", HIDING.values(), ids=HIDING.keys())
def test_the_approval_block_never_hides_the_end_of_a_command(command, monkeypatch):
    from rich.cells import cell_len

    from chatcli.core.events import ToolCall
    from chatcli.ui.toolblocks import call_block

    monkeypatch.setenv("COLUMNS", "80")
    block = call_block(ToolCall("c1", "shell", "shell (built-in)", None, {"command": command, "timeout": 5}))
    rows = block.split("\n")
    assert block.splitlines() == rows, "a line break the block does not count"
    assert all(cell_len(row) <= 80 for row in rows), rows
    assert rows[-2].endswith("touch PWNED") and rows[-1] == "  timeout: 5", rows
    assert len(rows) <= 7, rows


def test_blank_runs_are_counted_in_the_block(monkeypatch):
    from chatcli.core.events import ToolCall
    from chatcli.ui.toolblocks import call_block

    monkeypatch.setenv("COLUMNS", "80")
    rows = call_block(ToolCall("c1", "shell", "shell", None, {"command": HIDING["blanks"]})).split("\n")
    assert rows[1] == "  command: ls ⟨300 blanks⟩ ; touch PWNED"
    rows = call_block(ToolCall("c1", "shell", "shell", None, {"command": HIDING["blank-lines"]})).split("\n")
    assert rows[1:] == ["  command: echo hello", "  ⟨5 blank lines⟩", "  touch PWNED"]
    code = "def f():\n    if x:\n        return 1"  # indentation is not a run to count
    assert call_block(ToolCall("c1", "files", "files", None, {"content": code})).split("\n")[1:] == [
        "  content: def f():",
        "      if x:",
        "          return 1",
    ]


@pytest.mark.parametrize("text", ["漢字" * 100, "🙂" * 100, "ab漢" * 70])
def test_blocks_are_cut_by_terminal_cells(text, monkeypatch):
    from rich.cells import cell_len

    from chatcli.core.events import ToolCall, ToolResult
    from chatcli.ui.toolblocks import call_block, pipe_line, result_block

    monkeypatch.setenv("COLUMNS", "60")
    call = call_block(ToolCall("c1", "shell", "shell", None, {"command": f"echo {text} END"})).split("\n")
    result = result_block(ToolResult(ToolCall("c1", "shell", "shell", None, {}), "ok", text, 0.1)).split("\n")
    assert all(cell_len(row) <= 60 for row in call + result), (call, result)
    assert call[1].endswith("END") and cell_len(call[1]) >= 50, call  # cut to fit, not far short of it
    assert cell_len(result[1]) >= 50 and result[1].endswith("…"), result
    assert cell_len(pipe_line(ToolResult(ToolCall("c1", "shell", "shell", None, {"command": text}), "ok", ""))) <= 160


# --------------------------------------------------------------------------- where the block is shown


async def test_the_block_is_on_the_question_s_terminal_when_stderr_is_a_file(server, settings, tmp_path):
    from tests.helpers import a_thread

    command = "echo hello\n\n\n\n\n\ntouch PWNED"
    server.queue(tool_calls(("shell", {"command": command})), Reply("ok"))
    log = Captured()  # stderr sent to a file: not the terminal
    async with a_thread(replace(settings, tools=("shell",)), "redir") as conv:
        _, asked, terminal = approver(conv, ["v", "n"], err=log)
        await conv.send("go")
    shown = terminal.getvalue()
    assert len(asked) == 2 and "⚙ shell (built-in)" in shown and "touch PWNED" in shown, shown
    assert '"command": "echo hello\\n\\n\\n\\n\\n\\ntouch PWNED"' in shown, shown  # v: the whole arguments, there too
    assert not (tmp_path / "PWNED").exists()


async def test_with_no_terminal_for_the_question_the_calls_are_refused_unasked(server, settings, tmp_path):
    from tests.helpers import a_thread

    server.queue(tool_calls(("shell", {"command": "touch PWNED"}), ("shell", {"command": "touch PWNED2"})), Reply("ok"))
    async with a_thread(replace(settings, tools=("shell",)), "none") as conv:
        _, asked, _ = approver(conv, [], terminal=Captured(tty=False))
        await conv.send("go")
    assert asked == [] and not list(Path(tmp_path).glob("PWNED*"))
    assert all("no terminal" in r["content"] for r in tool_messages(server.requests[1]))
    assert_valid(server)


# --------------------------------------------------------------------------- a long call is no stall


def test_a_call_whose_arguments_stream_longer_than_the_stall_limit_is_no_stall(server, chat_env, tmp_path):
    """A call's arguments are progress, as text and thinking are: a model writing a long call (a file's whole text, say)
    streams for as long as it takes. Its six pieces 0.2 s apart: a second, twice the stall limit of 0.5 s, with no gap
    over it."""
    (tmp_path / "notes.txt").write_text("the harbour opens at dawn\n")
    streamed = tool_calls(("read_file", {"path": "./" + "./" * 30 + "notes.txt"}), split=5).parts
    *call, last, finish, done = streamed  # the call's name, its arguments in five pieces; the end
    paced: list[Any] = []
    for part in call:
        paced += [part, 0.2]
    paced += [last, finish, done]
    server.queue(Raw(paced), Reply("It opens at dawn."))
    run = chat({**chat_env, "CHATCLI_TIMEOUT": "0.5"}, "--tools", "files", "--yes", "when?", cwd=tmp_path)
    assert run.code == 0, run
    assert run.out == "It opens at dawn.\n"
    assert "the harbour opens at dawn" in str(server.requests[-1]["messages"][-1]["content"])
