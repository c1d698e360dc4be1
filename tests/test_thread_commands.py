"""Conversation commands (threads, show, export, import, rm, search, title, fork) on a real store."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.fakeserver import FakeOpenAIServer
from tests.helpers import assert_one_error_line, chat, roles
from tests.stores import message_rows
from tests.test_cli import base_env
from tests.test_reliability import db_of


def seed(home: Path, db: str | None = None) -> dict[str, str]:
    """Thread "alpha" (two turns) and "beta" (one), made through the real `chat`."""
    with FakeOpenAIServer() as fake:
        env = base_env(home, fake.base_url)
        if db:
            env["CHATCLI_DB"] = db
        assert chat(env, "-t", "alpha", "how do penguins keep warm?").code == 0
        assert chat(env, "-t", "alpha", "and what do they eat in winter?").code == 0
        assert chat(env, "-t", "beta", "explain quaternions briefly").code == 0
    return env


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory) -> Path:
    """A SQLite file with the seeded threads, made once."""
    path = db_file(seed(tmp_path_factory.mktemp("seed")))
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="module")
def seeded_pg(tmp_path_factory, pg_server) -> str:
    """A PostgreSQL template database with the seeded threads, made once."""
    home = tmp_path_factory.mktemp("seed-pg")
    return pg_server.template(lambda url: seed(home, url))


@pytest.fixture
def two_threads(request, storage, chat_env):
    """A private copy of the seeded database, used by this test's `chat` runs."""
    if storage.kind == "postgres":
        storage.reset(request.getfixturevalue("seeded_pg"))
        return chat_env
    target = db_file(chat_env)
    target.parent.mkdir(mode=0o700, parents=True)
    shutil.copyfile(request.getfixturevalue("seeded_db"), target)
    return chat_env


def db_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db"


def test_threads_lists_newest_first_with_titles(two_threads):
    run = chat(two_threads, "threads")
    assert run.code == 0, run
    lines = run.out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["beta", "alpha"]
    assert lines[1].split("\t")[-1] == "how do penguins keep warm?"
    assert lines[1].split("\t")[2] == "4"  # two questions, two answers

    listed = json.loads(chat(two_threads, "threads", "--json").out)
    assert [t["thread_id"] for t in listed] == ["beta", "alpha"]
    assert listed[1]["message_count"] == 4 and listed[1]["model"] == "gpt-fake"
    assert listed[1]["created_at"] <= listed[1]["updated_at"]
    assert len(json.loads(chat(two_threads, "threads", "--json", "--limit", "1").out)) == 1


def test_show_prints_the_transcript_plainly_in_a_pipe(two_threads):
    run = chat(two_threads, "show", "alpha")
    assert run.code == 0, run
    assert "\x1b" not in run.out
    assert run.out.count("## You") == 2 and run.out.count("## Assistant") == 2
    assert run.out.index("how do penguins keep warm?") < run.out.index("You said: how do penguins keep warm?")
    assert run.out.index("You said: how do penguins") < run.out.index("and what do they eat in winter?")


def test_unknown_thread_is_a_usage_error(two_threads):
    for args in (["show", "nope"], ["export", "nope"], ["rm", "--yes", "nope"], ["fork", "nope", "--at", "1"]):
        run = chat(two_threads, *args)
        assert run.code == 2 and "no thread 'nope'" in run.err, run


def bind(env: dict[str, str], thread_id: str, binding: Any) -> None:
    """Store what answers ``thread_id`` (chatcli.core.binding), as a run of --graph or --remote leaves it."""
    import asyncio

    from chatcli.config import load_settings
    from chatcli.store.light import open_light_store

    async def note() -> None:
        async with open_light_store(load_settings({}, environ=env).db or "") as store:
            await store.index.bind(thread_id, binding.to_json())

    asyncio.run(note())


def test_a_mistyped_id_is_named_and_a_start_finds_the_thread(server, chat_env):
    """The management commands resolve an id as `chat -t` does: a generated id a character off is refused naming the
    thread it looks like, a unique start of one finds it, and no id at all means the latest thread."""
    assert chat(chat_env, "-t", "0ad131a5", "how do penguins keep warm?").code == 0
    assert chat(chat_env, "-t", "later", "explain quaternions briefly").code == 0
    for args in (["show", "0ad131a6"], ["tree", "0ad131a6"], ["rm", "--yes", "0ad131a6"], ["title", "0ad131a6", "x"]):
        line = assert_one_error_line(chat(chat_env, *args), 2)
        assert "no thread 0ad131a6; did you mean 0ad131a5?" in line, args
    assert chat(chat_env, "title", "0ad1", "Penguins").code == 0
    assert "\tPenguins" in chat(chat_env, "threads").out
    latest = chat(chat_env, "tree")
    assert latest.code == 0 and "quaternions" in latest.out and "penguins" not in latest.out, latest
    assert chat(chat_env, "rm", "--yes", "0ad1").code == 0
    assert [line.split("\t")[0] for line in chat(chat_env, "threads").out.splitlines()] == ["later"]


def test_a_graphs_thread_is_shown_renamed_and_forked_whatever_answers_it(two_threads):
    """A thread bound to a graph of the user's is still chat's to show, rename and fork on any database (on a shared
    one too, where going on with it needs the graph named again)."""
    from chatcli.core.binding import Binding

    bind(two_threads, "alpha", Binding(kind="graph", graph="agent.py:graph", cwd="/nowhere"))
    shown = chat(two_threads, "show", "alpha")
    assert shown.code == 0 and "how do penguins keep warm?" in shown.out, shown
    assert chat(two_threads, "title", "alpha", "Penguins").code == 0
    forked = chat(two_threads, "fork", "alpha", "--at", "1", "--as", "alpha2")
    assert forked.code == 0 and forked.out == "alpha2\n", forked


def test_a_thread_on_an_agent_server_is_said_where_it_is(two_threads):
    """A thread noted as an Agent Server's (by its binding alone) is named with its server, at every command."""
    from chatcli.core.binding import Binding

    bind(two_threads, "deployed", Binding(kind="remote", url="http://127.0.0.1:9"))
    for args in (["show", "deployed"], ["tree", "deployed"], ["export", "deployed"], ["rm", "--yes", "deployed"]):
        line = assert_one_error_line(chat(two_threads, *args), 2)
        assert "thread deployed is on http://127.0.0.1:9" in line, args
        assert "chat threads --remote http://127.0.0.1:9 lists it" in line, args


def test_export_json_round_trips_through_import(two_threads, tmp_path):
    exported = chat(two_threads, "export", "alpha", "--format", "json")
    assert exported.code == 0, exported
    data = json.loads(exported.out)
    assert [m["role"] for m in data["messages"]] == ["user", "assistant", "user", "assistant"]
    assert all("created_at" in m for m in data["messages"])
    assert data["messages"][1]["model"] == "gpt-fake"
    assert data["title"] == "how do penguins keep warm?"

    path = tmp_path / "alpha.json"
    path.write_text(exported.out)
    imported = chat(two_threads, "import", str(path))
    assert imported.code == 0, imported
    new_id = imported.out.strip()
    assert new_id and new_id != "alpha"
    again = json.loads(chat(two_threads, "export", new_id, "--format", "json").out)
    assert again["messages"] == data["messages"]
    assert again["title"] == data["title"]


def test_import_rejects_what_is_not_an_export(two_threads, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    run = chat(two_threads, "import", str(bad))
    assert run.code == 2 and "not a chatcli thread export" in run.err, run
    bad.write_text("{not json")
    assert chat(two_threads, "import", str(bad)).code == 2


def test_export_markdown_has_each_turn(two_threads):
    run = chat(two_threads, "export", "beta")
    assert run.code == 0, run
    assert run.out.startswith("# explain quaternions briefly\n")
    assert "## You" in run.out and "You said: explain quaternions briefly" in run.out


def test_rm_asks_first_and_removes_only_that_thread(two_threads):
    refused = chat(two_threads, "rm", "alpha")
    assert refused.code == 2 and "--yes" in refused.err, refused
    assert "alpha" in chat(two_threads, "threads").out

    removed = chat(two_threads, "rm", "alpha", "--yes")
    assert removed.code == 0, removed
    listed = chat(two_threads, "threads").out
    assert "alpha" not in listed and "beta" in listed
    assert message_rows(db_of(two_threads), "alpha") == {"checkpoints": 0, "writes": 0, "messages": 0}
    assert message_rows(db_of(two_threads), "beta")["messages"] == 2
    assert chat(two_threads, "search", "penguins").code != 0  # gone from the search index too


def test_search_finds_thread_turn_and_snippet(two_threads):
    run = chat(two_threads, "search", "winter")
    assert run.code == 0, run
    first = run.out.splitlines()[0].split("\t")
    assert first[:3] == ["alpha", "2", "You"] and first[4] == "and what do they eat in winter?"
    assert chat(two_threads, "search", "zebras").code == 1  # as grep: 1 is "nothing found", 2 a usage error


def test_title_renames(two_threads):
    assert chat(two_threads, "title", "beta", "Rotations in 3D").code == 0
    line = [l for l in chat(two_threads, "threads").out.splitlines() if l.startswith("beta\t")][0]
    assert line.endswith("\tRotations in 3D")


def test_fork_keeps_the_first_turns_and_leaves_the_original(server, two_threads):
    run = chat(two_threads, "fork", "alpha", "--at", "1", "--as", "alpha2")
    assert run.code == 0 and run.out.strip() == "alpha2", run

    assert chat(two_threads, "-t", "alpha2", "what about emperors?").code == 0
    sent = roles(server.requests[-1])
    assert [r for r, _ in sent] == ["system", "user", "assistant", "user"]
    assert sent[1][1] == "how do penguins keep warm?" and sent[3][1] == "what about emperors?"

    assert chat(two_threads, "-t", "alpha", "one more").code == 0
    original = [c for r, c in roles(server.requests[-1]) if r == "user"]
    assert original == ["how do penguins keep warm?", "and what do they eat in winter?", "one more"]

    out_of_range = chat(two_threads, "fork", "alpha", "--at", "9")
    assert out_of_range.code == 2 and "no node '9' in thread alpha (nodes 1 to 3, or a label)" in out_of_range.err


def test_fork_needs_no_key(two_threads):
    """chat fork runs /fork on chat's own graph without a model: no key, no endpoint, no model server asked."""
    keyless = {k: v for k, v in two_threads.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    run = chat(keyless, "fork", "alpha", "--at", "1")
    assert run.code == 0 and run.err == "", run
    forked = json.loads(chat(keyless, "export", run.out.strip(), "-f", "json").out)
    assert forked["title"] == "how do penguins keep warm? (fork @1)" and len(forked["messages"]) == 2, forked


def test_show_and_export_defuse_escape_sequences_in_a_terminal(server, chat_env):
    from tests.fakeserver import Reply

    evil = "Look: \x1b]0;PWNED\x07 title and \x1b[2J clear, done."
    server.queue(Reply(evil))
    assert chat(chat_env, "-t", "evil", "say something odd").code == 0
    for args in (["show", "evil"], ["export", "evil"]):
        shown = chat({**chat_env, "COLUMNS": "100"}, *args, tty=True)  # every byte written to the terminal
        raw = shown.out + shown.err
        assert shown.code == 0, shown
        assert "\x1b]0;PWNED" not in raw and "\x1b[2J" not in raw and "\x07" not in raw, args
        assert "␛]0;PWNED␇" in raw, args
    piped = chat(chat_env, "export", "evil", "--format", "json")
    assert json.loads(piped.out)["messages"][1]["content"] == evil  # the export itself stays faithful


def test_a_database_from_before_the_index_is_migrated_in_place(two_threads):
    """A file written before the thread index and search existed (schema 1) opens with both filled."""
    with sqlite3.connect(db_file(two_threads)) as conn:
        for name in ("chatcli_search_insert", "chatcli_search_delete"):
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute("DROP TABLE chatcli_search")
        conn.execute("DROP TABLE chatcli_threads")
        conn.execute("DROP TABLE chatcli_migrations")  # as written by a release that counted migrations
        conn.execute("PRAGMA user_version = 1")
    run = chat(two_threads, "threads")
    assert run.code == 0, run
    titles = {line.split("\t")[0]: line.split("\t")[-1] for line in run.out.splitlines()}
    assert titles == {"alpha": "how do penguins keep warm?", "beta": "explain quaternions briefly"}
    assert chat(two_threads, "search", "quaternions").out.startswith("beta\t1\tYou\t")
    with sqlite3.connect(db_file(two_threads)) as conn:
        from chatcli.store.sqlite_schema import MIGRATIONS

        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert [r[0] for r in conn.execute("SELECT name FROM chatcli_migrations ORDER BY rowid")] == [
            m.name for m in MIGRATIONS
        ]


@pytest.mark.parametrize("made_by", ["this version", "an older version"])
def test_deleting_threads_gives_the_space_back(tmp_path, made_by):
    """Deleting a large thread shrinks the file: in place (incremental), or by one rewrite for older files."""
    import asyncio

    from chatcli.config import load_settings
    from chatcli.threads.opening import open_threads
    from chatcli.threads.operations import EXPORT_FORMAT

    db = tmp_path / "chat.db"
    settings = load_settings({"db": str(db)})
    big = {
        "format": EXPORT_FORMAT,
        "title": "big",
        "messages": [
            {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i} " + "lorem ipsum " * 200}
            for i in range(300)
        ],
    }
    small = {"format": EXPORT_FORMAT, "title": "small", "messages": [{"role": "user", "content": "hi"}]}

    async def fill() -> str:
        async with open_threads(settings) as threads:
            await threads.import_json(small)
            return await threads.import_json(big)

    big_id = asyncio.run(fill())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if made_by == "an older version":
            conn.execute("PRAGMA auto_vacuum = NONE")
            conn.execute("VACUUM")
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == (2 if made_by == "this version" else 0)
    before = db.stat().st_size

    async def remove() -> list:
        async with open_threads(settings) as threads:
            await threads.delete(big_id)
            return await threads.list()

    left = asyncio.run(remove())
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # older files are switched over
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = db.stat().st_size
    assert [t.title for t in left] == ["small"]
    assert after < before / 3, (before, after)
