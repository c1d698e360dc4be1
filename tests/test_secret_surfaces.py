"""A credential chat knows (a provider key in the settings, or one a provider's SDK reads by itself) is never
shown back, though the thread holds it: a line the user pasted, an answer or a tool's output that echoed it.

The class is every surface that prints, replays or serves a stored thread (``chat show`` in a pipe and a terminal,
``chat export`` as Markdown and JSON, ``chat threads``, ``chat search`` and their ``--json``, the prompt's /history
and /export, ``chat serve``'s threads, an editor's ``session/list``, ``session/load`` and the turns of the session
it loaded) times every credential variable the provider table knows (chatcli.provider_table), so a new provider's
key or a new surface is covered by adding it to its list. Each calls one function, chatcli.threads.masking.masked;
a piece of a key cut at a title's or a snippet's edge is masked too.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from chatcli.provider_table import key_variables, sdk_credentials
from tests.fakeserver import Calls, Reply
from tests.helpers import chat

SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
CREDENTIALS = sorted(key_variables() | {v for v in sdk_credentials() if any(w in v for w in SECRET_WORDS)})


def _values() -> dict[str, str]:
    return {var: f"V{n:02d}-{var.lower()}-not-for-your-eyes" for n, var in enumerate(CREDENTIALS)}


@pytest.fixture
def secret_env(chat_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """chat_env with every credential variable set (the SDKs' own in this process's environment too, where they
    read them); OPENAI_API_KEY is the fake server's key."""
    values = _values()
    values["OPENAI_API_KEY"] = chat_env["OPENAI_API_KEY"]
    for var, value in values.items():
        monkeypatch.setenv(var, value)
    return {**chat_env, **values}


def _leaks(text: str, env: dict[str, str]) -> list[str]:
    return [var for var in CREDENTIALS if env[var] in text]


def _pieces(text: str, env: dict[str, str], size: int = 10) -> list[str]:
    """Every piece of ``size`` characters of a credential in ``text`` (a key cut at a snippet's or a title's edge)."""
    return sorted({env[v][i : i + size] for v in CREDENTIALS for i in range(len(env[v]) - size + 1)} & _windows(text))


def _windows(text: str, size: int = 10) -> set[str]:
    return {text[i : i + size] for i in range(len(text) - size + 1)}


def _thread(server, env: dict[str, str], cwd: Path) -> str:
    """A thread whose question, title, answer and system prompt each hold every credential."""
    every = " ".join(env[var] for var in CREDENTIALS)
    server.queue(Reply(f"you said {every}"))
    run = chat(env, "--json", "--system", f"keys {every}", f"{every} is what I have", cwd=cwd)
    assert run.code == 0, run
    return json.loads(run.out)["thread_id"]


def test_the_list_covers_every_provider_and_sdk():
    assert {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OLLAMA_API_KEY"} <= set(CREDENTIALS), CREDENTIALS
    assert len(CREDENTIALS) >= 5


@pytest.mark.parametrize(
    "args, tty",
    [
        (["show"], False),
        (["show"], True),
        (["export"], False),
        (["export", "--format", "json"], False),
        (["threads", "--json"], False),
        (["threads"], True),
    ],
    ids=["show-pipe", "show-terminal", "export-md", "export-json", "threads-json", "threads-terminal"],
)
def test_a_stored_credential_is_masked_on_every_command(server, secret_env, tmp_path, args, tty):
    thread_id = _thread(server, secret_env, tmp_path)
    whole = [*args, thread_id] if args[0] != "threads" else args
    run = chat(secret_env, *whole, cwd=tmp_path, tty=tty)
    assert run.code == 0, run
    assert not _leaks(run.out + run.err, secret_env), run.out
    assert "***" in run.out, run.out  # shown masked, not dropped
    if args[0] != "threads":
        assert "is what I have" in run.out and "you said" in run.out, run.out


def test_an_export_file_is_masked_too(server, secret_env, tmp_path):
    thread_id = _thread(server, secret_env, tmp_path)
    for fmt in ("md", "json"):
        out = tmp_path / f"thread.{fmt}"
        assert chat(secret_env, "export", thread_id, "-f", fmt, "-o", str(out), cwd=tmp_path).code == 0
        assert not _leaks(out.read_text(), secret_env), fmt


def test_the_thread_itself_keeps_what_was_said(server, secret_env, tmp_path):
    """Masking is of what is shown: the stored thread (and what the model is sent next) is untouched."""
    thread_id = _thread(server, secret_env, tmp_path)
    server.queue(Reply("ok"))
    assert chat(secret_env, "-t", thread_id, "again", cwd=tmp_path).code == 0
    sent = json.dumps(server.requests[-1]["messages"])
    assert all(secret_env[var] in sent for var in CREDENTIALS)


def test_the_prompts_history_and_export_mask_them(server, secret_env, tmp_path):
    from chatcli.config import load_settings
    from tests.test_commands import chat as prompt_chat

    thread_id = _thread(server, secret_env, tmp_path)
    settings = load_settings({}, environ=secret_env)

    async def main() -> list[str]:
        async with prompt_chat(settings, thread_id) as prompt:
            return [await prompt.run(line) for line in ("/history", "/export", "/export json")]

    for printed in asyncio.run(main()):
        assert "is what I have" in printed and not _leaks(printed, secret_env), printed


def test_chat_serves_threads_masked(server, secret_env, tmp_path):
    from tests.doors.serve import AppServed

    thread_id = _thread(server, secret_env, tmp_path)
    served = AppServed(secret_env)
    try:
        for path in ("/v1/threads", f"/v1/threads/{thread_id}"):
            status, body = served.request("GET", path)
            assert status == 200, body
            text = json.dumps(body, ensure_ascii=False)
            assert "***" in text and not _leaks(text, secret_env), (path, text)
    finally:
        served.stop()


@pytest.mark.parametrize("how", [[], ["--json"], ["terminal"]], ids=["pipe", "json", "terminal"])
@pytest.mark.parametrize("word", ["said", "have", "eyes", "anthropic"])
def test_a_search_shows_no_credential_nor_a_piece_of_one(server, secret_env, tmp_path, how, word):
    """A snippet is a window of words: a key (words joined by - and _) it cuts shows none of its pieces either."""
    _thread(server, secret_env, tmp_path)
    run = chat(secret_env, "search", word, *[a for a in how if a != "terminal"], cwd=tmp_path, tty="terminal" in how)
    assert run.code == 0, run
    shown = run.out + run.err
    assert not _leaks(shown, secret_env) and not _pieces(shown, secret_env), shown
    assert "***" in shown, shown


def test_a_key_longer_than_a_title_is_not_cut_into_it(server, secret_env, tmp_path):
    """A title is the question cut near 60 characters: a long key first in it shows no piece of itself."""
    key = "sk-proj-" + "Ab3" * 50
    env = {**secret_env, "ANTHROPIC_API_KEY": key}
    server.queue(Reply("noted"))
    assert chat(env, f"{key} is my key", cwd=tmp_path).code == 0
    for args in (["threads"], ["threads", "--json"], ["search", "key"]):
        run = chat(env, *args, cwd=tmp_path)
        assert run.code == 0 and "***" in run.out, run
        assert not {key[i : i + 10] for i in range(len(key) - 9)} & _windows(run.out), run.out


def test_an_editor_s_load_list_and_the_turns_of_the_session_it_loaded_mask_them(server, secret_env, tmp_path):
    """session/list's titles, session/load's replayed messages (the user's and the agent's) and a turn of the loaded
    session (its answer echoing the thread, a tool call holding a key and its result): no credential, *** in their
    place."""
    from tests.acp_client import dumped
    from tests.doors.acp import InProcessEditor

    thread_id = _thread(server, secret_env, tmp_path)
    every = " ".join(secret_env[var] for var in CREDENTIALS)
    editor = InProcessEditor(secret_env, "--tools", "files")
    try:
        editor.initialize()
        listed = editor.call("list_sessions").sessions
        assert any(s.session_id == thread_id for s in listed)
        editor.call("load_session", cwd=str(tmp_path), session_id=thread_id, mcp_servers=[])
        replayed = json.dumps([dumped(u) for sid, u in editor.updates if sid == thread_id], ensure_ascii=False)
        assert "user_message_chunk" in replayed and "agent_message_chunk" in replayed, replayed
        assert "is what I have" in replayed and "***" in replayed, replayed
        since = len(editor.updates)
        (tmp_path / "keys.txt").write_text(every + "\n")
        server.queue(
            Calls([("read_file", {"path": f"keys.txt#{secret_env['ANTHROPIC_API_KEY']}"})]),
            Reply("the keys: " + " ".join(f"{secret_env[var]} ." for var in CREDENTIALS)),
        )
        editor.prompt(thread_id, "what did I say?")
        turn = json.dumps([dumped(u) for sid, u in editor.updates[since:] if sid == thread_id], ensure_ascii=False)
        assert "tool_call" in turn and "***" in turn, turn
        shown = " ".join(s.title or "" for s in listed) + replayed + turn
        assert not _leaks(shown, secret_env), shown
    finally:
        editor.close()
