"""Which thread a run is on: a mistyped id is caught, -c continues the last one, ids are shown only
for threads that exist, and a thread keeps its role's model and temperature.

Which thread an id names is decided by chat's service (``Chat.find``), asked of a ``session`` (tests/session.py);
what the command line and the prompt make of it (their flags, words and exit codes), of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatcli.errors import UsageError
from tests.doors.prompt import Typed
from tests.fakeserver import Fault, Reply
from tests.helpers import THREAD_NOTE, assert_one_error_line, chat, eventually, visible
from tests.test_commands import chat as conversation
from tests.test_roles import roles, system_of  # noqa: F401  (roles: the fixture)


def thread_ids(env: dict[str, str]) -> list[str]:
    listed = chat(env, "threads", "--json")
    assert listed.code == 0, listed
    return [row["thread_id"] for row in json.loads(listed.out)]


def first_thread(env: dict[str, str], question: str = "remember 42") -> str:
    run = chat(env, question)
    assert run.code == 0, run
    return THREAD_NOTE.search(run.err).group(1)


async def asked(session: Any, question: str = "remember 42", thread: str | None = None) -> str:
    """The id of the thread ``question`` was asked in: ``thread``, or a new one under a generated id."""
    conversation = await session.chat.thread(thread)
    await conversation.send(question)
    return str(conversation.thread_id)


async def listed(session: Any) -> list[str]:
    """The ids of the session's threads."""
    return [info.thread_id for info in await session.chat.threads().list()]


# --------------------------------------------------------------------------- a mistyped id


def swapped(t: str) -> str:
    """``t`` with its first two unlike neighbours swapped (a random id may start "aa")."""
    i = next(i for i in range(len(t) - 1) if t[i] != t[i + 1])
    return t[:i] + t[i + 1] + t[i] + t[i + 2 :]


@pytest.mark.parametrize(
    "typo",
    [lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"), swapped, lambda t: t + "0"],
    ids=["replaced", "swapped", "one more"],
)
async def test_a_mistyped_thread_id_names_the_thread_and_sends_nothing(session, typo):
    real = await asked(session)
    wrong = typo(real)
    with pytest.raises(UsageError, match=f"no thread {wrong}; did you mean {real}\\?") as refused:
        await session.chat.thread(wrong)
    assert f"chat --new-thread {wrong}" in str(refused.value.hint)
    assert len(session.model.requests) == 1 and await listed(session) == [real]  # nothing sent, nothing stored


def test_a_unique_start_of_a_generated_id_finds_it_everywhere_an_id_is_taken(server, chat_env):
    real = first_thread(chat_env)
    start = real[:4].upper() if real[:4].isalpha() else real[:4]  # any case, as typed
    run = chat(chat_env, "-t", start, "what was the number?")
    assert run.code == 0 and THREAD_NOTE.search(run.err).group(1) == real, run
    assert [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "user"][0] == "remember 42"
    shown = chat(chat_env, "show", real[:5])
    assert shown.code == 0 and "remember 42" in shown.out and "what was the number?" in shown.out, shown
    exported = chat(chat_env, "export", real[:6], "--format", "json")
    assert exported.code == 0 and json.loads(exported.out)["thread_id"] == real, exported
    assert chat(chat_env, "title", real[:4], "the number").code == 0
    assert json.loads(chat(chat_env, "threads", "--json").out)[0]["title"] == "the number"
    removed = chat(chat_env, "rm", real[:4], "--yes")
    assert removed.code == 0 and f"deleted {real}" in removed.err and thread_ids(chat_env) == [], removed


async def test_a_start_shared_by_two_generated_ids_is_refused_naming_both(session):
    for name in ("abcd1234", "abcd5678"):
        await asked(session, "hi", name)
    with pytest.raises(UsageError, match="abcd is the start of 2 threads") as refused:
        await session.chat.find("abcd", going_on=False)
    assert "abcd1234" in str(refused.value) and "abcd5678" in str(refused.value)
    assert (await session.chat.find("abcd5", going_on=False)).thread_id == "abcd5678"


@pytest.mark.parametrize(
    "existing, chosen",
    [("barA", "barB"), ("att", "att3"), ("dotenv", "dotenv2"), ("pend", "pend2"), ("fix-a", "fix-b"), ("main", "Main")],
)
async def test_a_name_the_user_chooses_is_never_refused_for_resembling_another(session, existing, chosen):
    await asked(session, "first", existing)
    assert await asked(session, "second", chosen) == chosen
    assert [m["content"] for m in session.model.requests[-1]["messages"][1:]] == ["second"]  # a thread of its own
    assert sorted(await listed(session)) == sorted([existing, chosen])


def test_new_thread_refuses_only_a_name_that_is_taken(server, chat_env):
    assert chat(chat_env, "-t", "review", "first").code == 0
    taken = chat(chat_env, "--new-thread", "review", "third")
    assert "thread review already exists" in assert_one_error_line(taken, 2)


@pytest.mark.parametrize("word", ["last", "recent"])
async def test_words_like_last_are_names_like_any_other(session, word):
    await asked(session)
    assert await asked(session, "and then?", word) == word
    assert [m["content"] for m in session.model.requests[-1]["messages"][1:]] == ["and then?"]


@pytest.mark.parametrize("option", ["-t", "--thread", "--new-thread"])
def test_an_empty_thread_id_is_a_usage_error_and_sends_nothing(server, chat_env, option):
    first_thread(chat_env)
    line = assert_one_error_line(chat(chat_env, option, "", "hi"), 2)
    assert "thread id is empty" in line
    assert len(server.requests) == 1


@pytest.mark.parametrize("command", ["show", "export"])
def test_show_and_export_without_an_id_mean_the_last_thread(server, chat_env, command):
    assert chat(chat_env, "-t", "older", "the older one").code == 0
    assert chat(chat_env, "-t", "newer", "the newer one").code == 0
    run = chat(chat_env, command)
    assert run.code == 0 and "the newer one" in run.out and "the older one" not in run.out, run


def test_show_without_an_id_and_no_thread_is_one_line(chat_env):
    line = assert_one_error_line(chat(chat_env, "show"), 2)
    assert "no threads yet" in line


async def test_switch_to_a_mistyped_id_names_the_thread_and_stays(settings, server):
    async with conversation(settings, "0ad131a5") as c:
        await c.ask("remember 42")
        await c.run("/new")
        with pytest.raises(UsageError, match="no thread 0ad131a6; did you mean 0ad131a5\\?.*/new 0ad131a6"):
            await c.run("/switch 0ad131a6")
        shown = await c.run("/new 0ad131a6")  # deliberately
        assert c.thread_id == "0ad131a6" and "new thread" in shown
        await c.run("/switch 0ad1")  # a unique start of a generated id
        assert c.thread_id == "0ad131a5"
        with pytest.raises(UsageError, match="already exists"):
            await c.run("/new 0ad131a5")


# --------------------------------------------------------------------------- -c / --continue


async def test_continue_resumes_the_most_recently_used_thread(session):
    await asked(session, "my name is Zed", "older")
    await asked(session, "unrelated", "newer")
    await asked(session, "I live in Oslo", "older")  # used last
    latest = await session.chat.find(latest=True)
    assert latest.thread_id == "older"
    await (await session.chat.thread(latest)).send("what is my name?")
    sent = [m["content"] for m in session.model.requests[-1]["messages"] if m["role"] == "user"]
    assert sent == ["my name is Zed", "I live in Oslo", "what is my name?"]


def test_c_and_continue_go_on_with_the_last_thread(server, chat_env):
    real = first_thread(chat_env)
    run = chat(chat_env, "-c", "what was the number?")
    assert run.code == 0 and THREAD_NOTE.search(run.err).group(1) == real, run
    assert [m["content"] for m in server.requests[-1]["messages"][1:] if m["role"] == "user"][0] == "remember 42"
    assert json.loads(chat(chat_env, "--continue", "--json", "and where?").out)["thread_id"] == real


def test_continue_with_thread_or_without_any_thread_is_one_line(server, chat_env):
    none_yet = assert_one_error_line(chat(chat_env, "-c", "hello"), 2)
    assert "no conversation to continue yet" in none_yet
    first_thread(chat_env)
    both = assert_one_error_line(chat(chat_env, "-c", "-t", "x", "hello"), 2)
    assert "--continue" in both
    assert len(server.requests) == 1


# --------------------------------------------------------------------------- ids only for threads that exist


def test_a_thread_id_is_shown_only_for_a_thread_that_exists(server, chat_env):
    empty = chat(chat_env, "")
    assert empty.code == 2 and not THREAD_NOTE.search(empty.err), empty
    (Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli").mkdir(parents=True)
    (Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "mcp.json").write_text("{not json")
    config = chat(chat_env, "hello")
    assert config.code == 3 and not THREAD_NOTE.search(config.err), config
    obj = json.loads(chat(chat_env, "--json", "").out)
    assert obj["error"]["exit_code"] == 2 and obj["thread_id"] is None
    assert thread_ids(chat_env) == [] and server.requests == []
    # Once the question is stored the thread exists: a failed answer names it, `chat threads` lists it and `chat
    # show` finds the question there.
    (Path(chat_env["XDG_CONFIG_HOME"]) / "chatcli" / "mcp.json").unlink()
    server.queue(Fault(status=401))
    failed = json.loads(chat(chat_env, "--json", "hello").out)
    assert failed["error"]["exit_code"] == 4 and failed["thread_id"] in thread_ids(chat_env)
    assert "hello" in chat(chat_env, "show", failed["thread_id"]).out


# --------------------------------------------------------------------------- a thread keeps its role


def test_a_thread_keeps_its_roles_model_and_temperature(server, chat_env, roles):  # noqa: F811
    server.queue(Reply("a"), Reply("b"), Reply("c"))
    assert chat(chat_env, "--role", "reviewer", "-t", "rv", "look at this").code == 0
    assert chat(chat_env, "-t", "rv", "and this?").code == 0
    kept = server.requests[1]
    assert (kept["model"], kept.get("temperature"), system_of(kept)) == (
        "gpt-4o",
        0.2,
        "You review Rust code, tersely.",
    )
    assert chat(chat_env, "-t", "rv", "-m", "gpt-other", "once more").code == 0  # a flag wins, for that run
    assert (server.requests[2]["model"], server.requests[2].get("temperature")) == ("gpt-other", 0.2)


async def test_a_role_without_a_model_puts_the_default_back_for_good(settings, server, roles, chat_env):  # noqa: F811
    from dataclasses import replace

    settings = replace(settings, roles_dir=str(roles))
    async with conversation(settings, "sw") as c:
        await c.ask("first")
        await c.run("/role reviewer")
        await c.ask("second")
        shown = await c.run("/role pirate")
        await c.ask("third")
    assert "model gpt-fake (the default)" in shown
    second, third = server.requests[1:]
    assert (second["model"], second.get("temperature")) == ("gpt-4o", 0.2)
    assert (third["model"], "temperature" in third, system_of(third)) == ("gpt-fake", False, "You talk like a pirate.")
    async with conversation(settings, "sw") as again:  # a later session on the thread: the same
        await again.ask("fourth")
        assert await again.conversation.own("roles").role() == "pirate"
    assert (server.requests[-1]["model"], "temperature" in server.requests[-1]) == ("gpt-fake", False)


# --------------------------------------------------------------------------- the prompt's banner


def test_the_prompt_says_which_thread_it_opens_and_refuses_a_mistyped_one(server, chat_env):
    real = first_thread(chat_env, "remember the number 42")

    def opened(*args: str) -> Typed:
        """The prompt in this process (tests/doors/prompt.py), once it reads keys or has ended."""
        typed = Typed(chat_env, list(args))
        eventually(lambda: "chatcli ·" in typed.text or not typed.thread.is_alive(), "the banner")
        return typed

    resumed = opened("--thread", real)
    assert f"chatcli · thread {real}" in resumed.text and "remember the number 42 · 2 messages" in resumed.text
    assert resumed.leave() == 0, resumed
    latest = opened("-c")
    assert f"chatcli · thread {real}" in latest.text and "2 messages" in latest.text
    assert latest.leave() == 0, latest
    fresh = opened()
    assert "chatcli · new thread ·" in fresh.text and real not in fresh.text
    fresh.ready()
    at = len(fresh.out.getvalue()), len(fresh.err.getvalue())
    assert fresh.leave() == 0, fresh
    said = visible(fresh.out.getvalue()[at[0] :] + fresh.err.getvalue()[at[1] :])
    assert "bye" in said and "resume with" not in said, fresh  # nothing was kept
    wrong = real[:-1] + ("0" if real[-1] != "0" else "1")
    mistyped = Typed(chat_env, ["--thread", wrong])
    mistyped.thread.join(60)
    assert mistyped.leave() == 2, mistyped
    assert f"no thread {wrong}; did you mean {real}?" in mistyped.text and ">" not in mistyped.text, mistyped
    assert len(server.requests) == 1


@pytest.mark.parametrize("opened", [False, True], ids=["before it opens", "opened"])
async def test_an_id_is_found_among_many_threads_by_the_index_key_not_by_reading_every_row(
    session, monkeypatch, opened
):
    from chatcli.service.chat import Chat
    from chatcli.store import sqlite as sqlite_store

    ids = [f"{i * 2654435761 % 2**32:08x}" for i in range(300)]  # generated ids, spread out
    for thread_id in ids:
        await session.chat.store.index.touch(thread_id, "a question", 2, "gpt-fake")
    read: list[int] = []  # the rows of each read of the index
    rows = sqlite_store.ReadOnly.rows

    def counted(*args: Any, **options: Any) -> Any:
        read.append(len(found := rows(*args, **options)))
        return found

    monkeypatch.setattr(sqlite_store.ReadOnly, "rows", counted)
    async with Chat(session.settings) as chat:
        if opened:
            await chat.open(tools=False)
            index = chat.store.index
            monkeypatch.setattr(index, "_rows", lambda *a, _rows=index._rows: _counted(read, _rows(*a)))
        newest = await chat.find(latest=True, going_on=False)
        assert newest.thread_id == ids[-1]
        assert (await chat.find(ids[7], going_on=False)).info.thread_id == ids[7]
        assert (await chat.find(ids[9][:5].upper(), going_on=False)).thread_id == ids[9]  # a unique start
        assert (await chat.find(new="fresh", going_on=False)).info is None
        assert (await chat.find(going_on=False)).thread_id not in ids
        with pytest.raises(UsageError, match=f"thread {ids[3]} already exists"):
            await chat.find(new=ids[3], going_on=False)
        assert sum(read) <= 10, read  # a row or two a question, never the 300
        typo = ids[5][:-1] + ("0" if ids[5][-1] != "0" else "1")
        with pytest.raises(UsageError, match=f"no thread {typo}; did you mean {ids[5]}"):  # only then: every id
            await chat.find(typo)


async def _counted(read: list[int], rows: Any) -> Any:
    found = await rows
    read.append(len(found))
    return found


@pytest.mark.parametrize("wanted, known, meant", [
    ("0ad131a", ["0ad131a5"], "0ad131a5"),  # a unique start of a generated id finds it
    ("0AD1", ["0ad131a5", "notes"], "0ad131a5"),
    ("0ad", ["0ad131a5"], None),  # too short to be taken for it: a new name
    ("notez", ["notes"], None),  # a name the user chose: never a typo of another
    ("dbl1", ["dbl0"], None),
    ("review-2", ["review-1"], None),
    ("0ad1", ["0ad1", "0ad131a5"], "0ad1"),  # an exact name wins over a start
])  # fmt: skip
def test_a_start_of_a_generated_id_finds_it_and_other_names_are_new(wanted, known, meant):
    from chatcli.core.inputs import resolve_thread_id

    assert resolve_thread_id(wanted, known) == meant


@pytest.mark.parametrize("wanted", ["0ad131a6", "0da131a5", "0ad131a55", "0ad131b5"])
def test_a_generated_id_one_character_off_is_a_probable_typo(wanted):
    from chatcli.core.inputs import resolve_thread_id

    with pytest.raises(UsageError, match="did you mean 0ad131a5"):
        resolve_thread_id(wanted, ["0ad131a5", "notes"])
