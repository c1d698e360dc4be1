"""Roles: named system prompts (with a model, a temperature, variables) kept as files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakeserver import Reply
from tests.helpers import chat, stored


@pytest.fixture
def roles(chat_env: dict[str, str]) -> Path:
    directory = Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "roles"
    directory.mkdir(parents=True)
    (directory / "pirate.md").write_text("You talk like a pirate.\n")
    (directory / "reviewer.toml").write_text(
        'system = "You review {language} code, tersely."\nmodel = "gpt-4o"\ntemperature = 0.2\n[vars]\nlanguage = "Rust"\n'
    )
    return directory


def system_of(body: dict) -> str:
    return body["messages"][0]["content"]


def test_a_markdown_role_is_the_system_prompt_and_stays_with_the_thread(server, chat_env, roles):
    server.queue(Reply("Arr."), Reply("Arr again."))
    assert chat(chat_env, "--role", "pirate", "-t", "ship", "hello").code == 0
    assert system_of(server.requests[0]) == "You talk like a pirate."
    assert chat(chat_env, "-t", "ship", "and now?").code == 0  # no --role: the thread keeps it
    assert system_of(server.requests[1]) == "You talk like a pirate."


def test_a_toml_role_brings_its_model_temperature_and_vars(server, chat_env, roles):
    server.queue(Reply("LGTM."))
    assert chat(chat_env, "--role", "reviewer", "-t", "rev", "look at this").code == 0
    body = server.requests[0]
    assert system_of(body) == "You review Rust code, tersely."
    assert body["model"] == "gpt-4o" and body["temperature"] == 0.2


def test_flags_beside_a_role_win(server, chat_env, roles):
    server.queue(Reply("ok"))
    assert chat(chat_env, "--role", "reviewer", "-m", "gpt-fake", "--var", "language=Go", "look").code == 0
    body = server.requests[0]
    assert body["model"] == "gpt-fake" and system_of(body) == "You review Go code, tersely."


def test_an_unknown_role_is_one_line_naming_where_roles_live(server, chat_env, roles):
    run = chat(chat_env, "--role", "poet", "hello")
    assert run.code == 2, run
    assert f"no role 'poet' in {roles} (known: pirate, reviewer)" in run.err and len(run.err.strip().splitlines()) == 1
    assert server.requests == []


def test_a_broken_role_file_is_one_line(server, chat_env, roles):
    (roles / "bad.toml").write_text('model = "x"\n')
    run = chat(chat_env, "--role", "bad", "hello")
    assert run.code == 3, run
    assert "bad.toml: a role needs system" in run.err


def test_chat_roles_lists_them(chat_env, roles):
    run = chat(chat_env, "roles")
    assert run.code == 0, run
    lines = run.out.splitlines()
    assert lines[0].startswith("pirate") and "You talk like a pirate." in lines[0]
    assert lines[1].startswith("reviewer") and "gpt-4o" in lines[1] and "You review {language} code" in lines[1]


def test_chat_roles_with_none_says_where_to_put_them(chat_env):
    run = chat(chat_env, "roles")
    assert run.code == 0 and "no roles yet" in run.out and "roles" in run.out


def test_role_at_the_prompt_switches_prompt_model_and_temperature(server, settings, roles):
    import asyncio
    import io
    from dataclasses import replace

    from chatcli.service.chat import Chat
    from chatcli.ui.output import PlainOutput
    from chatcli.ui.registry import Context
    from tests.helpers import run_command

    settings = replace(settings, roles_dir=str(roles))

    async def main() -> str:
        out, err = io.StringIO(), io.StringIO()
        output = PlainOutput(out, err)
        async with Chat(settings, listener=output) as chat:
            conversation = await chat.thread("sw")
            server.queue(Reply("plain"), Reply("reviewed"))
            await conversation.send("first")
            await run_command(Context(conversation, output, settings, chat, out=out), "/role reviewer")
            await conversation.send("second")
            await run_command(Context(conversation, output, settings, chat, out=out), "/role")
        return out.getvalue() + err.getvalue()

    printed = asyncio.run(main())
    first, second = server.requests
    assert system_of(first) == "You are a helpful assistant." and "temperature" not in first
    assert system_of(second) == "You review Rust code, tersely."
    assert second["model"] == "gpt-4o" and second["temperature"] == 0.2
    assert "role reviewer from the next message · model gpt-4o · temperature 0.2" in printed
    assert "reviewer\n" in printed
    assert [m.type for m in stored(settings.db, "sw")] == ["human", "ai", "human", "ai"]
