"""Tools: the model calls chat's built-in tools through the real OpenAI client path, with approval.

The fake server streams tool calls as OpenAI does (each call's arguments split across chunks,
two calls in one reply) and refuses, with OpenAI's 400, any request where a call lacks its
result. These run ``chat`` in-process (no terminal: approval cannot be asked, so ``--yes``
or the config's ``approve`` list decide) and drive the conversation directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatcli.core.events import Decision
from tests.fakeserver import Reply, tool_calls
from tests.helpers import HANG, Tokens, chat, stored
from tests.test_reliability import db_of


def write_config(chat_env: dict[str, str], text: str) -> None:
    path = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def tool_messages(body: dict) -> list[dict]:
    return [m for m in body["messages"] if m["role"] == "tool"]


def refused_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("tool call refused:")]


# --------------------------------------------------------------------------- the loop


def test_two_calls_streamed_in_pieces_run_with_yes_and_the_answer_goes_on(server, chat_env, tmp_path):
    server.queue(
        tool_calls(
            ("shell", {"command": "echo tool-ran-42"}), ("shell", {"command": "echo second-call"}), text="Let me check."
        ),
        Reply("Both commands printed their words."),
    )
    run = chat(chat_env, "--tools", "shell", "--yes", "-t", "loop", "run them")
    assert run.code == 0, run
    assert run.out == "Let me check.\n\nBoth commands printed their words.\n"
    assert len([line for line in run.err.splitlines() if line.startswith("tool: shell (built-in)")]) == 2, run
    first, second = server.requests
    assert [t["function"]["name"] for t in first["tools"]] == ["shell"]
    results = tool_messages(second)
    assert [r["tool_call_id"] for r in results] == ["call_0_shell", "call_1_shell"]
    assert results[0]["content"] == "tool-ran-42\n[exit code 0]"
    assert results[1]["content"] == "second-call\n[exit code 0]"
    kinds = [m.type for m in stored(db_of(chat_env), "loop")]
    assert kinds == ["human", "ai", "tool", "tool", "ai"]


def test_without_a_terminal_an_unapproved_call_is_refused_and_the_answer_goes_on(server, chat_env, tmp_path):
    server.queue(
        tool_calls(("shell", {"command": "touch ran-1"}), ("shell", {"command": "touch ran-2"})),
        Reply("I could not run them."),
    )
    run = chat(chat_env, "--tools", "shell", "make two files", cwd=tmp_path)
    assert run.code == 0, run
    assert run.out == "I could not run them.\n"
    assert not (tmp_path / "ran-1").exists() and not (tmp_path / "ran-2").exists()
    lines = refused_lines(run.err)
    assert len(lines) == 2 and "touch ran-1" in lines[0] and "--yes" in lines[0], run
    results = tool_messages(server.requests[1])
    assert all("not run" in r["content"] and "no terminal" in r["content"] for r in results)


def test_the_config_approve_list_runs_its_tools_without_asking(server, chat_env, tmp_path):
    write_config(chat_env, 'approve = ["shell"]\n')
    server.queue(tool_calls(("shell", {"command": "touch approved"})), Reply("Done."))
    run = chat(chat_env, "--tools", "shell", "go", cwd=tmp_path)
    assert run.code == 0, run
    assert (tmp_path / "approved").exists()
    assert not refused_lines(run.err)


def test_tools_are_off_unless_asked_for(server, chat_env):
    server.queue(Reply("plain"), Reply("plain again"))
    assert chat(chat_env, "hello").code == 0
    assert "tools" not in server.requests[0]
    assert chat(chat_env, "--tools", "shell", "--no-tools", "hello").code == 0
    assert "tools" not in server.requests[1]


def test_an_unknown_built_in_tool_is_one_line(chat_env):
    run = chat(chat_env, "--tools", "shel", "hi")
    assert run.code == 3, run
    assert "unknown built-in tool 'shel'" in run.err and "shell, files" in run.err


def test_files_tools_read_and_list(server, chat_env, tmp_path):
    (tmp_path / "notes.txt").write_text("the notes say 7\n")
    server.queue(tool_calls(("read_file", {"path": "notes.txt"}), ("list_directory", {"path": "."})), Reply("ok"))
    run = chat(chat_env, "--tools", "files", "--yes", "read", cwd=tmp_path)
    assert run.code == 0, run
    read, listing = tool_messages(server.requests[1])
    assert read["content"] == "the notes say 7\n"
    assert "notes.txt" in listing["content"].splitlines()


def test_a_call_of_an_unknown_tool_or_with_broken_arguments_gets_an_error_result(server, chat_env):
    server.queue(tool_calls(("launch_rockets", {}), ("shell", "command=echo hi"), text=""), Reply("Sorry."))
    run = chat(chat_env, "--tools", "shell", "--yes", "go")
    assert run.code == 0, run
    unknown, broken = tool_messages(server.requests[1])
    assert "no tool named 'launch_rockets'" in unknown["content"] and "shell" in unknown["content"]
    assert "not valid JSON" in broken["content"]


# --------------------------------------------------------------------------- limits


def test_tool_rounds_are_limited_per_question(server, chat_env):
    write_config(chat_env, "tool_rounds = 2\n")
    server.queue(
        tool_calls(("shell", {"command": "echo 1"})),
        tool_calls(("shell", {"command": "echo 2"})),
        Reply("Enough tools: here is the answer."),
    )
    run = chat(chat_env, "--tools", "shell", "--yes", "loop forever")
    assert run.code == 0, run
    assert ["tools" in body for body in server.requests] == [True, True, False]
    assert run.out == "Enough tools: here is the answer.\n"
    assert "used its 2 rounds of tools for this question: it answers without them now" in run.err, run.err


def test_a_long_result_is_cut_for_the_model_and_kept_whole(server, chat_env):
    write_config(chat_env, "tool_result_chars = 100\n")
    server.queue(tool_calls(("shell", {"command": "printf 'x%.0s' $(seq 5000)"})), Reply("long"))
    run = chat(chat_env, "--tools", "shell", "--yes", "-t", "long", "print a lot")
    assert run.code == 0, run
    sent = tool_messages(server.requests[1])[0]["content"]
    assert sent.startswith("x" * 100) and "more characters cut" in sent and len(sent) < 300
    kept = [m for m in stored(db_of(chat_env), "long") if m.type == "tool"][0]
    assert kept.content == "x" * 5000 + "\n[exit code 0]"


def test_a_call_over_its_time_limit_is_stopped(server, chat_env):
    write_config(chat_env, "tool_timeout = 0.5\n")
    # The command would sleep HANG seconds: a chat that waited for it would not be back before pytest's timeout.
    server.queue(tool_calls(("shell", {"command": f"sleep {HANG:g}"})), Reply("it was slow"))
    run = chat(chat_env, "--tools", "shell", "--yes", "wait")
    assert run.code == 0, run
    assert "took longer than 0.5 s" in tool_messages(server.requests[1])[0]["content"]


def test_a_model_without_tool_support_gets_one_note_and_the_question_again(server, chat_env):
    server.tool_support = False
    server.queue(Reply("Answered without tools."))
    run = chat(chat_env, "--tools", "shell", "hello")
    assert run.code == 0, run
    assert run.out == "Answered without tools.\n"
    assert [("tools" in body) for body in server.requests] == [True, False]
    notes = [line for line in run.err.splitlines() if "does not take tools" in line]
    assert len(notes) == 1, run


# --------------------------------------------------------------------------- scripts


def test_json_carries_the_calls_with_their_results(server, chat_env):
    server.queue(tool_calls(("shell", {"command": "echo in-json"})), Reply("done"))
    run = chat(chat_env, "--tools", "shell", "--yes", "--json", "go")
    assert run.code == 0, run
    obj = json.loads(run.out)
    (call,) = obj["tool_calls"]
    assert call["name"] == "shell" and call["arguments"] == {"command": "echo in-json"}
    assert call["status"] == "ok" and call["result"] == "in-json\n[exit code 0]"
    assert obj["reply"] == "done"


def test_jsonl_emits_call_and_result_events_in_order(server, chat_env):
    server.queue(tool_calls(("shell", {"command": "echo ev"})), Reply("fine"))
    run = chat(chat_env, "--tools", "shell", "--jsonl", "go")  # no --yes: refused
    assert run.code == 0, run
    events = [json.loads(line) for line in run.out.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "tool_result" and kinds[-1] == "done", kinds
    assert events[0]["status"] == "refused" and events[0]["arguments"] == {"command": "echo ev"}
    assert len(refused_lines(run.err)) == 1
    server.queue(tool_calls(("shell", {"command": "echo ev"})), Reply("fine"))
    run = chat(chat_env, "--tools", "shell", "--jsonl", "--yes", "go")
    kinds = [json.loads(line)["type"] for line in run.out.splitlines()]
    assert kinds[:2] == ["tool_call", "tool_result"] and kinds[-1] == "done", kinds


# --------------------------------------------------------------------------- the thread stays valid


def test_a_call_left_without_result_is_closed_before_the_next_question(server, chat_env, settings):
    """As after a kill -9 in the middle of a call: the thread holds a call and no result."""
    import asyncio

    from langchain_core.messages import AIMessage, HumanMessage

    from chatcli.backends.own.graph import MODEL_NODE
    from tests.helpers import a_thread

    async def crash() -> None:
        async with a_thread(settings, "dangling") as conv:
            from langgraph.graph import START

            await conv.app.aupdate_state(conv.config, {"messages": [HumanMessage("run it")]}, as_node=START)
            call = {"name": "shell", "args": {"command": "sleep 100"}, "id": "call_dead"}
            await conv.app.aupdate_state(
                conv.config, {"messages": [AIMessage("", tool_calls=[call])]}, as_node=MODEL_NODE
            )

    asyncio.run(crash())
    server.queue(Reply("Back again."))
    run = chat(chat_env, "--db", settings.db, "-t", "dangling", "--tools", "shell", "what happened?")
    assert run.code == 0, run  # the fake server refuses (400) a call without its result
    sent = server.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user"]
    assert "interrupted" in sent[3]["content"]
    kinds = [m.type for m in stored(settings.db, "dangling")]
    assert kinds == ["human", "ai", "tool", "human", "ai"]


def test_history_with_calls_is_sent_whole_even_without_tools(server, chat_env):
    server.queue(tool_calls(("shell", {"command": "echo a"})), Reply("first"), Reply("second"))
    assert chat(chat_env, "--tools", "shell", "--yes", "-t", "h", "one").code == 0
    run = chat(chat_env, "--no-tools", "-t", "h", "two")
    assert run.code == 0, run
    assert [m["role"] for m in server.requests[-1]["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
    ]


async def test_undo_and_retry_treat_a_question_and_its_calls_as_one_exchange(server, settings):
    from dataclasses import replace

    from tests.helpers import a_thread

    settings = replace(settings, tools=("shell",), approve_all=True)
    server.queue(tool_calls(("shell", {"command": "echo x"})), Reply("answer one"))
    async with a_thread(settings, "ex") as conv:
        await conv.send("question")
        assert [m.type for m in await conv.messages()] == ["human", "ai", "tool", "ai"]
        server.queue(Reply("answer two"))
        result = await conv.retry()
        assert result.text == "answer two"
        assert [m.type for m in await conv.messages()] == ["human", "ai"]
        undone = await conv.undo()
        assert (undone.question, undone.messages) == ("question", 2) and await conv.messages() == []


async def test_an_edited_call_runs_with_the_edited_arguments(server, settings, tmp_path):
    from dataclasses import replace

    from tests.helpers import a_thread

    settings = replace(settings, tools=("shell",))
    server.queue(tool_calls(("shell", {"command": "echo original"})), Reply("ok"))
    asked = []

    async def approve(call):
        asked.append(call)
        return Decision("yes", args={"command": "echo edited"})

    async with a_thread(settings, "ed", Tokens(approve=approve)) as conv:
        await conv.send("go")
    assert [c.arguments for c in asked] == [{"command": "echo original"}]
    assert (
        tool_messages(server.requests[1])[0]["content"]
        == '(the user edited the arguments before it ran: {"command": "echo edited"})\nedited\n[exit code 0]'
    )


async def test_an_approval_left_unanswered_survives_and_is_asked_again(server, settings):
    """The question for approval is part of the thread: chat stopping (a crash) does not lose it."""
    from dataclasses import replace

    from tests.helpers import a_thread

    settings = replace(settings, tools=("shell",))
    server.queue(tool_calls(("shell", {"command": "echo later"})), Reply("ran it"))
    async with a_thread(settings, "later") as conv:
        from langchain_core.messages import HumanMessage

        async for _ in conv.app.astream({"messages": [HumanMessage("go")]}, conv.config):
            pass  # the run stops at the question; nobody answers it (chat was killed)
    async with a_thread(settings, "later") as conv:
        pending = [c for p in await conv.waiting() for c in p.calls]
        assert [c.arguments for c in pending] == [{"command": "echo later"}]

        async def approve(call):
            return Decision("yes")

        conv.listener = Tokens(approve=approve)
        result = await conv.resume()
        assert result.text == "ran it"
        assert [c for p in await conv.waiting() for c in p.calls] == []
    assert tool_messages(server.requests[1])[0]["content"] == "later\n[exit code 0]"


# --------------------------------------------------------------------------- show, export, search


def test_show_export_and_search_include_calls_and_results(server, chat_env, tmp_path):
    server.queue(
        tool_calls(("shell", {"command": "echo zanzibar-result"}), text="Checking."), Reply("It said zanzibar.")
    )
    assert chat(chat_env, "--tools", "shell", "--yes", "-t", "shown", "go").code == 0
    show = chat(chat_env, "show", "shown")
    assert "### Tool call: shell" in show.out and '"command": "echo zanzibar-result"' in show.out
    assert "### Tool result (shell (built-in): ok)" in show.out and "zanzibar-result\n[exit code 0]" in show.out
    exported = json.loads(chat(chat_env, "export", "shown", "-f", "json").out)
    roles = [m["role"] for m in exported["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert exported["messages"][1]["tool_calls"][0]["arguments"] == {"command": "echo zanzibar-result"}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported))
    imported = chat(chat_env, "import", str(path))
    assert imported.code == 0, imported
    hits = chat(chat_env, "search", "zanzibar-result")
    assert "shown" in hits.out and "\tTool\t" in hits.out, hits


def test_an_import_whose_result_answers_no_call_is_refused(chat_env, tmp_path):
    data = {"format": "chatcli-thread", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "tool", "content": "stray", "tool_call_id": "call_x"},
    ]}  # fmt: skip
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    run = chat(chat_env, "import", str(path))
    assert run.code == 2, run
    assert "messages[1].tool_call_id" in run.err


@pytest.mark.parametrize(
    "pattern, runs", [("bars:*", True), ("bars:secret_word", True), ("bars:add", False), ("files", False)]
)
def test_approve_patterns(pattern, runs):
    from chatcli.tools.toolbox import Toolbox, ToolEntry

    class Named:
        name = "secret_word"

    box = Toolbox(approve=(pattern,))
    assert box.preapproved(ToolEntry("secret_word", "bars", Named())) is runs


def test_summary_memory_never_separates_a_call_from_its_results(server, chat_env):
    """Older turns folded into the summary, the recent ones sent whole: calls with their results."""
    write_config(chat_env, 'memory = "summary"\ncontext_tokens = 150\n')
    words = "lots of words to fill the budget " * 6
    record = server._record_and_pop

    def summariser_gets_the_default(body, headers, pop=True):  # the queue is for the answers
        summarising = "running summary" in str(body["messages"][0].get("content"))
        return record(body, headers, pop and not summarising)

    server._record_and_pop = summariser_gets_the_default
    for i in range(3):
        server.queue(tool_calls(("shell", {"command": f"echo turn-{i} {words}"})), Reply(f"answer {i} {words}"))
        run = chat(chat_env, "--tools", "shell", "--yes", "-t", "mem", f"question {i} {words}")
        assert run.code == 0, run  # the fake server answers 400 to a call sent without its result
    last = server.requests[-1]["messages"]
    assert "Summary of the earlier conversation" in str(last[1]["content"])
    roles = [m["role"] for m in last]
    assert "tool" in roles and roles[roles.index("tool") - 1] == "assistant"


def test_the_approval_block_cuts_long_arguments_and_shows_a_path_resolved(tmp_path, monkeypatch):
    from chatcli.core.events import ToolCall
    from chatcli.ui.toolblocks import call_block

    monkeypatch.chdir(tmp_path)
    long = {"command": "\n".join(f"echo line {i}" for i in range(30))}
    block = call_block(ToolCall("c1", "shell", "shell (built-in)", None, long)).splitlines()
    assert block == [
        "⚙ shell (built-in)",
        "  command: echo line 0",
        "  echo line 1",
        "  echo line 2",
        "  … 26 more lines …",
        "  echo line 29",
    ]
    shown = call_block(ToolCall("c1", "read_file", "read_file (built-in)", "builtin", {"path": "notes.txt"}))
    assert f"(that is {tmp_path / 'notes.txt'})" in shown
    absolute = call_block(ToolCall("c2", "read_file", "read_file (built-in)", "builtin", {"path": "/etc/hosts"}))
    assert absolute.count("/etc/hosts") == 1, absolute  # an absolute path is not said twice


def test_one_line_past_the_shown_ones_is_shown_not_counted():
    """A result or arguments one line longer than is shown take as many lines whole as cut: never "… 1 more lines"."""
    from chatcli.ui.toolblocks import SHOWN_LINES, shortened

    for keep_end in (False, True):
        one_more = "\n".join(f"line {i}" for i in range(SHOWN_LINES + 1))
        assert shortened(one_more, width=80, keep_end=keep_end) == one_more, keep_end
        two_more = "\n".join(f"line {i}" for i in range(SHOWN_LINES + 2))
        assert "… 2 more lines" in shortened(two_more, width=80, keep_end=keep_end), keep_end


def test_search_numbers_turns_by_questions_even_with_tool_messages(server, chat_env):
    server.queue(tool_calls(("shell", {"command": "echo a"})), Reply("first answer"), Reply("the quokka answer"))
    assert chat(chat_env, "--tools", "shell", "--yes", "-t", "turns", "one").code == 0
    assert chat(chat_env, "-t", "turns", "two").code == 0
    hits = chat(chat_env, "search", "quokka").out.splitlines()
    assert [line.split("\t")[:2] for line in hits] == [["turns", "2"]]


@pytest.mark.parametrize(
    "status, message, refused",
    [
        (400, "registry.ollama.ai/library/smollm2 does not support tools", True),  # Ollama
        (500, "tools param requires --jinja flag", True),  # llama.cpp's llama-server
        (400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set', True),  # vLLM
        (400, "This model's maximum context length is 100 tokens", False),  # not about tools
        (401, "Incorrect API key provided; tools", False),
    ],
)
def test_servers_that_refuse_tools_are_told_apart(status, message, refused):
    from chatcli.backends.own.toolcalls import tools_refused

    class Refusal(Exception):
        status_code = status

    assert tools_refused(Refusal(message)) is refused


async def test_a_pending_approval_on_a_thread_resumed_with_tools_off_is_closed_by_the_next_message(server, settings):
    import io
    from dataclasses import replace

    from langchain_core.messages import HumanMessage

    from chatcli.service.waiting import go_on_waiting
    from chatcli.ui.output import PlainOutput
    from tests.helpers import a_thread

    server.queue(tool_calls(("shell", {"command": "echo never"})), Reply("moved on"))
    async with a_thread(replace(settings, tools=("shell",)), "off") as conv:
        async for _ in conv.app.astream({"messages": [HumanMessage("go")]}, conv.config):
            pass  # stopped at the question, never answered
    err = io.StringIO()
    async with a_thread(replace(settings, use_tools=False), "off", PlainOutput(io.StringIO(), err)) as conv:
        assert await go_on_waiting(conv) is None
        assert "with tools off" in err.getvalue()
        await conv.send("something else")
    sent = server.requests[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user"]
    assert "interrupted" in sent[3]["content"] and "tools" not in server.requests[-1]
