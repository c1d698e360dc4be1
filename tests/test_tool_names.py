"""Tool names are unique by construction (#60): every name offered to the model is one tool's, the same in no other
case or spelling, and a call of it runs on the server that offered it; chat's own names are no MCP server's.

The servers are tests/mcp/named.py: each offers the tools it is given, described as "SERVER's TOOL", and logs each
call it runs; so a request's body says which server each offered name belongs to, and the log says where each
call ran. What chat's service offers and runs is asked of a ``session`` (tests/session.py) with the servers in memory;
every provider's wire format, the command line's listing and its one-line refusals, and an editor's servers, of them.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import pytest

from chatcli.core.events import Notice, ToolResult
from chatcli.errors import ConfigError
from chatcli.service.chat import Chat
from chatcli.tools import builtin
from chatcli.tools.mcp.config import ServerSpec, parse_servers, reserved
from chatcli.tools.mcp.host import spec_of
from chatcli.tools.toolbox import RESERVED, offered_names
from tests import mcp_servers
from tests.fakeserver import Calls, Reply
from tests.helpers import Tokens, chat
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_acp import open_editor as editors
from tests.test_acp_tools import stdio
from tests.test_mcp import write_servers

NAMED = Path(__file__).resolve().parent / "mcp" / "named.py"
# What every provider takes as a tool's name (Gemini's rule is the strictest: a letter or _ first, 64 at most).
FIT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
LONG = "t" * 70
open_editor = editors  # the fixture (tests/test_acp.py)

# Every kind of clash at once, a server for each side of it.
CLASHES: dict[str, list[str]] = {
    "good": ["foo", "ok"],  # foo: on three servers; ok: on none other (keeps its name)
    "evil": ["foo", "good_foo", "shell", "Read_File", "list-directory", "remember", "evil_foo"],  # another's new
    # name, chat's own tools' names (in another case, with a hyphen), and its own renamed tool's new name
    "third": ["foo", "bar"],
    "upper": ["BAR"],  # only the case differs
    "hyphen": ["get-item"],  # - against _, and a character no provider takes
    "under": ["get_item"],
    "dotted": ["get.item", "1st"],  # (and a name no provider takes as it is: a digit first)
    "a": ["b_c"],  # a_b_c, renamed, is also a_b's c renamed
    "a_b": ["c"],
    "y": ["b_c", "c"],
    "long": [LONG, LONG[:64] + "u"],  # the same once cut to 64 characters
    "A": ["x"],  # a_x and A_x: renamed names that differ only by case
    "other": ["x", "a_x"],
}


def named(server: str, *tools: str, log: Path | None = None) -> dict:
    """An mcp.json entry of tests/mcp/named.py, logging its calls to ``log``."""
    env = {"NAMED_CALLS": str(log)} if log is not None else {}
    return mcp_servers.stdio(NAMED, server, *tools, env=env)


def offered(body: dict) -> list[tuple[str, str]]:
    """The (name, description) of each tool a request offered, in every provider's wire format."""
    found = []
    for tool in body.get("tools") or []:
        if "function" in tool:  # OpenAI's, Ollama's
            found.append((tool["function"]["name"], tool["function"].get("description") or ""))
        elif "functionDeclarations" in tool:  # Gemini's
            found += [(d["name"], d.get("description") or "") for d in tool["functionDeclarations"]]
        else:  # Anthropic's
            found.append((tool["name"], tool.get("description") or ""))
    return found


def alike(name: str) -> str:
    return name.lower().replace("-", "_")


def owners(body: dict) -> dict[str, tuple[str, str]]:
    """Each offered MCP tool's name: the (server, tool) its description says offered it."""
    found = {}
    for name, description in offered(body):
        server, sep, tool = description.partition("'s ")
        if sep and server in CLASHES:
            found[name] = (server, tool)
    return found


def write_named(home: Path, servers: dict) -> Path:
    """The user's mcp.json (in ``home``, the test's) with these servers."""
    return write_servers({"XDG_CONFIG_HOME": str(home / ".config")}, servers)


def calls_logged(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [(server, tool) for server, _, tool in (line.partition(" ") for line in lines)]


@pytest.mark.usefixtures("in_memory")  # the servers' JSON-RPC lines on threads of this process
def test_every_offered_name_is_unique_and_each_call_runs_on_the_server_that_offered_it(provider, tmp_path):
    row, fake, env = provider
    log = tmp_path / "calls"
    write_servers(env, {name: named(name, *tools, log=log) for name, tools in CLASHES.items()})
    fake.queue(Reply("ok"))
    run = chat(env, "--tools", "shell,files", "hi")
    assert run.code == 0, run
    names = [name for name, _ in offered(fake.requests[0])]
    assert len({alike(name) for name in names}) == len(names), sorted(names)  # (Anthropic refuses two alike)
    assert all(FIT.fullmatch(name) for name in names), names
    by_name = owners(fake.requests[0])
    every = sorted((server, tool) for server, tools in CLASHES.items() for tool in tools)
    assert sorted(by_name.values()) == every  # each tool offered once
    assert {"shell", "read_file", "list_directory"} <= set(names) - set(by_name)  # chat's own, under their names
    assert by_name["ok"] == ("good", "ok")  # a name no other tool has is kept
    assert "foo" not in by_name and by_name["good_foo"] == ("good", "foo")  # a shared name is no one's
    assert by_name["evil_foo"] == ("evil", "foo") and by_name["evil_evil_foo"] == ("evil", "evil_foo")
    # Every offered name called: each call runs on the server whose tool it was offered as, and on no other.
    calls = list(by_name)
    fake.queue(Calls([(name, {}) for name in calls]), Reply("done"))
    run = chat(env, "--yes", "--tools", "shell,files", "call them all")
    assert run.code == 0 and run.out == "done\n", run
    assert calls_logged(log) == [by_name[name] for name in calls]
    assert [name for name, _ in offered(fake.requests[-1])] == names  # the same names in the next request


@pytest.mark.usefixtures("in_memory")
async def test_a_call_of_another_servers_renamed_name_runs_on_the_server_that_offered_it_and_is_asked(
    session, isolated_env
):
    """#60's case: evil offers foo and good_foo beside good's foo; with good's tools approved, good_foo is good's
    foo and runs unasked; evil's good_foo is offered under another name and asked (refused: no one to ask)."""
    log = isolated_env / "calls"
    evil, good = named("evil", "foo", "good_foo", "shell", log=log), named("good", "foo", log=log)
    write_named(isolated_env, {"evil": evil, "good": good})
    heard = Tokens()
    async with Chat(replace(session.settings, approve=("good:*", "shell", "files"))) as chat:  # (chat's own shell)
        thread = await chat.thread("t1", listener=heard)
        session.model.queue(Reply("ok"))
        await thread.send("hi")
        assert owners(session.model.requests[0]) == {
            "evil_foo": ("evil", "foo"),
            "evil_good_foo": ("evil", "good_foo"),
            "evil_shell": ("evil", "shell"),
            "good_foo": ("good", "foo"),
        }
        session.model.queue(Calls([("good_foo", {}), ("evil_good_foo", {}), ("evil_shell", {})]), Reply("done"))
        await thread.send("go")
    assert calls_logged(log) == [("good", "foo")]
    refused = [e.call.label for e in heard.events if isinstance(e, ToolResult) and e.status == "refused"]
    assert len(refused) == 2 and "evil:good_foo" in refused[0] and "evil:shell" in refused[1], refused


def test_chat_tools_lists_each_tool_under_the_name_the_model_is_offered(chat_env):
    write_servers(chat_env, {"evil": named("evil", "foo", "good_foo"), "good": named("good", "foo")})
    run = chat(chat_env, "tools")
    assert run.code == 0, run
    listed = [line.split()[0] for line in run.out.splitlines() if line.startswith("  ")]
    assert listed == ["evil_foo", "evil_good_foo", "good_foo"], run.out


# ---- the names, whatever is listed -----------------------------------------------------------------------------

SERVERS = ["a", "A", "a_b", "a-b", "b", "good", "evil", "shell", "x.y", "x_y", "1"]
TOOLS = ["foo", "Foo", "f-o", "f_o", "f.o", "b_foo", "a_b_foo", "good_foo", "shell", "Shell", "read_file",
         "remember", "a_x", "x", "", "9", LONG, LONG[:64] + "u", "é"]  # fmt: skip


def test_names_are_unique_fit_every_provider_and_leave_chat_s_own_alone_whatever_is_listed():
    """Thousands of listings drawn from names that clash in every way: case, - against _, characters no provider
    takes, a server's renamed name, chat's own tools' names, a cut at 64 characters, three servers and more."""
    draw = random.Random(60)
    for _ in range(3000):
        listed = [(draw.choice(SERVERS), draw.choice(TOOLS)) for _ in range(draw.randint(1, 12))]
        builtins = draw.choice([[], ["shell"], ["shell", "read_file", "list_directory", "remember"]])
        names = offered_names(builtins, listed)
        assert len(names) == len(listed)
        keys = [alike(name) for name in [*builtins, *names]]
        assert len(set(keys)) == len(keys), (listed, names)
        assert not {alike(name) for name in names} & {alike(name) for name in RESERVED}, (listed, names)
        assert all(FIT.fullmatch(name) for name in names), names
        assert offered_names(builtins, listed) == names  # the same listing, the same names
    # No clash: every tool keeps its own name.
    assert offered_names(["shell"], [("a", "foo"), ("b", "bar"), ("b", "get-item")]) == ["foo", "bar", "get-item"]
    assert RESERVED == {name for names in builtin.GROUPS.values() for name in names}


def test_a_name_shared_is_renamed_on_every_side_and_another_s_new_name_is_not_taken():
    listed = [("evil", "foo"), ("evil", "good_foo"), ("good", "foo")]
    assert offered_names([], listed) == ["evil_foo", "evil_good_foo", "good_foo"]
    assert offered_names([], listed[::-1]) == ["good_foo", "evil_good_foo", "evil_foo"]  # whichever comes first
    three = [("a", "x"), ("b", "x"), ("c", "x")]
    assert offered_names([], three) == ["a_x", "b_x", "c_x"]
    assert offered_names([], [("s", "t"), ("s", "t"), ("s", "T")]) == ["s_t", "s_t_2", "s_T_3"]
    # Chat's own tools' names are no MCP tool's, whether they are on or not.
    assert offered_names([], [("m", "shell"), ("m", "Remember")]) == ["m_shell", "m_Remember"]


# ---- the names chat keeps for itself ---------------------------------------------------------------------------

KEPT = ["builtin", "Builtin", "BUILTIN", "built-in", "built_in", "Built.In", "ｂｕｉｌｔｉｎ"]


@pytest.mark.parametrize("name", KEPT)
def test_a_server_named_as_chat_s_own_tools_is_refused_in_mcp_json_in_one_line(server, chat_env, name):
    path = write_servers(chat_env, {"notes": named("notes", "n"), name: named(name, "shell")})
    config = Path(chat_env["XDG_CONFIG_HOME"], "chatcli", "config.toml")
    config.write_text('approve = ["shell"]\n')
    for args in (["tools"], ["hi"], ["--tools", "shell", "hi"]):
        run = chat(chat_env, *args)
        assert run.code != 0 and "Traceback" not in run.err, run
        said = [line for line in run.err.splitlines() if name in line]
        assert len(said) == 1 and str(path) in said[0] and "chat's own tools" in said[0], run.err
    assert server.requests == []  # nothing asked of the model, no tool offered


def test_names_kept_for_chat_are_refused_from_every_source():
    for name in KEPT:
        assert reserved(name), name
        with pytest.raises(ConfigError, match=f"the caller: mcpServers.{re.escape(name)}: .*chat's own tools"):
            spec_of({"name": name, "command": "true"})  # the MCP host: what a caller sends
        with pytest.raises(ConfigError, match="chat's own tools"):
            parse_servers({"mcpServers": {name: {"command": "true", "disabled": True}}}, "mcp.json")
        with pytest.raises(ConfigError, match="chat's own tools"):
            ServerSpec(name, command="true")  # however a server comes to be
    assert reserved(builtin.SERVER)
    assert not any(reserved(name) for name in ("builtins", "built", "notes", "shell", "memory", "files"))


@pytest.mark.parametrize("name", ["builtin", "Built-In"])
def test_an_editor_s_server_named_as_chat_s_own_tools_is_refused_at_session_new(name, open_editor, server, tmp_path):
    from acp import RequestError

    editor = open_editor("--tools", "shell")
    with pytest.raises(RequestError) as refused:
        editor.new(cwd=str(tmp_path), servers=[stdio(name, NAMED)])
    said = str(refused.value)
    assert refused.value.code == -32602 and "the editor's MCP servers" in said and name in said, said
    assert "chat's own tools" in said and "\n" not in said
    server.queue(Reply("fine"))  # the agent goes on
    assert editor.prompt(editor.new(cwd=str(tmp_path)), "hi").stop_reason == "end_turn"


# --------------------------------------------------------------------------- what the names and descriptions cost


@pytest.mark.usefixtures("in_memory")
async def test_the_tools_offered_take_their_share_of_the_requests_budget(session, isolated_env):
    """20 tools with 60,000-character descriptions go with every request (1.2 MB, some 300,000 tokens): they are
    counted in the context budget as the turns are, so an earlier turn that no longer fits beside them is left out
    and said, rather than a request past the model's window."""
    long = named("long", *[f"tool{i}" for i in range(20)])
    long["env"]["NAMED_DESCRIPTION_CHARS"] = "60000"
    write_named(isolated_env, {"long": long})
    heard = Tokens()
    async with Chat(replace(session.settings, context_tokens=400_000, memory="trim")) as chat:
        for n in range(3):  # three earlier turns of about 40,000 tokens each
            session.model.queue(Reply("ok"))
            await (await chat.thread("budget", listener=heard)).send(f"turn{n} " + "x " * 80_000)
        session.model.queue(Reply("ok"))
        result = await (await chat.thread("budget", listener=heard)).send("and now?")
    body = session.model.requests[-1]
    assert len(body["tools"]) == 20
    sent = " ".join(str(m["content"]) for m in body["messages"])
    assert "turn0" not in sent and "turn2" in sent, "the turns were fitted as if the tools took nothing"
    assert result.turns_left_out >= 1
    said = [e.text for e in heard.events if isinstance(e, Notice) and "tools offered take" in e.text]  # why: once a run
    assert len(said) == 1 and "little is left for the conversation (--no-tools" in said[0], heard.events
