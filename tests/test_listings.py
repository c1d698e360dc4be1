"""What a newcomer notices in the thread commands: one way of writing times, a search like the
other listings (prefixes, --json, grep's exit codes), titles before `rm` asks, a hint on an
empty list, a pager for long transcripts, a plain word for a file that is not an export."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from tests.helpers import Captured, assert_one_error_line, chat
from tests.test_thread_commands import seeded_db, seeded_pg, two_threads  # noqa: F401  (fixtures)

SAID_AT = "2026-11-23T10:40:12+00:00"
LOCAL = "2026-11-23 16:10 +05:30"  # SAID_AT in TZ=IST-5:30: a zone with half an hour shows any slip
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
PEOPLE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d \+05:30$")


@pytest.fixture
def india():
    """The process runs in UTC+05:30 for the test (TZ and tzset), then as before."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def imported(env: dict[str, str], tmp_path: Path) -> str:
    """A thread said at SAID_AT (imported, so its times are known); its id."""
    export = {"format": "chatcli-thread", "title": "about alice", "messages": [
        {"role": "user", "content": "who is alice?", "created_at": SAID_AT},
        {"role": "assistant", "content": "Alice is the one in Wonderland.", "created_at": SAID_AT, "model": "gpt-fake"},
    ]}  # fmt: skip
    path = tmp_path / "t.json"
    path.write_text(json.dumps(export))
    run = chat(env, "import", str(path))
    assert run.code == 0, run
    return run.out.strip()


def test_times_are_local_with_their_offset_for_people_and_iso_utc_for_programs(chat_env, tmp_path, india):
    thread = imported(chat_env, tmp_path)
    for args in (["show", thread], ["export", thread]):
        out = chat(chat_env, *args).out
        assert f"## You ({LOCAL})" in out and f"## Assistant ({LOCAL} · gpt-fake)" in out, out
    assert LOCAL in chat(chat_env, "show", thread, tty=True).out

    data = json.loads(chat(chat_env, "export", thread, "-f", "json").out)
    assert [m["created_at"] for m in data["messages"]] == [SAID_AT, SAID_AT]
    assert ISO_UTC.match(data["created_at"]) and ISO_UTC.match(data["updated_at"]), data

    listed = chat(chat_env, "threads").out.splitlines()[0].split("\t")
    assert listed[0] == thread and PEOPLE.match(listed[1]), listed
    assert ISO_UTC.match(json.loads(chat(chat_env, "threads", "--json").out)[0]["updated_at"])

    hit = chat(chat_env, "search", "wonderland").out.splitlines()[0].split("\t")
    assert PEOPLE.match(hit[3]), hit
    assert ISO_UTC.match(json.loads(chat(chat_env, "search", "wonderland", "--json").out)[0]["time"])

    again = tmp_path / "again.json"  # an export with ISO times imports back
    again.write_text(json.dumps(data))
    assert chat(chat_env, "import", str(again)).code == 0


async def test_history_and_threads_in_the_prompt_show_the_same_times(settings, server, india, monkeypatch):
    from tests.test_commands import chat as prompt_chat

    monkeypatch.setenv("LINES", "500")
    async with prompt_chat(settings, "alpha") as c:
        await c.ask("hello")
        history = await c.run("/history")
        stamps = re.findall(r"## You \(([^)]*)\)", history)
        assert len(stamps) == 1 and PEOPLE.match(stamps[0]), history
        row = [line for line in (await c.run("/threads")).splitlines() if "\t" in line][0]
        assert PEOPLE.match(row.split("\t")[1]), row


def test_search_reads_like_the_other_listings(two_threads):  # noqa: F811
    piped = chat(two_threads, "search", "winter")
    assert piped.code == 0 and "\x1b" not in piped.out and "[" not in piped.out, piped
    assert [line.split("\t")[:3] for line in piped.out.splitlines()] == [
        ["alpha", "2", "You"],
        ["alpha", "2", "Assistant"],
    ]

    shown = chat(two_threads, "search", "winter", tty=True)
    assert shown.code == 0, shown
    assert "\x1b[1;7mwinter\x1b[0m" in shown.out  # the match in bold reverse video
    assert "You" in shown.out and "Assistant" in shown.out and "human" not in shown.out

    hits = json.loads(chat(two_threads, "search", "winter", "--json").out)
    assert [(h["thread_id"], h["turn"], h["speaker"]) for h in hits] == [
        ("alpha", 2, "user"),
        ("alpha", 2, "assistant"),
    ]
    assert hits[0]["title"] == "how do penguins keep warm?" and hits[0]["snippet"] == "and what do they eat in winter?"
    assert set(hits[0]) == {"thread_id", "title", "turn", "speaker", "snippet", "time"}


def test_search_exits_as_grep_does(two_threads):  # noqa: F811
    assert chat(two_threads, "search", "penguins").code == 0
    none = chat(two_threads, "search", "zebras")
    assert none.code == 1 and none.out == "" and none.err == "", none  # as grep: exit 1, nothing said
    as_json = chat(two_threads, "search", "zebras", "--json")
    assert as_json.code == 1 and json.loads(as_json.out) == []
    assert chat(two_threads, "search", "   ").code == 2  # nothing to search for: a usage error


def test_a_trailing_star_is_a_prefix_and_nothing_else_is_syntax(two_threads):  # noqa: F811
    found = chat(two_threads, "search", "pengu*", "--json")
    assert found.code == 0 and {h["thread_id"] for h in json.loads(found.out)} == {"alpha"}, found
    assert "penguins" in json.loads(found.out)[0]["snippet"]
    assert chat(two_threads, "search", "quater* brief*").out.startswith("beta\t1\tYou\t")
    assert chat(two_threads, "search", "pengu").code == 1  # without the star, whole words only
    # FTS5 operators, column filters and quotes are words to look for, never query syntax.
    for text in (
        "text:penguins",
        "penguins NEAR warm",
        "NEAR(penguins warm)",
        '"penguins',
        "pen*guins",
        "*",
        "^penguins",
    ):
        run = chat(two_threads, "search", text)
        assert run.code in (0, 1) and "Traceback" not in run.err and "database error" not in run.err, run
    assert chat(two_threads, "search", "penguins OR zebras").code == 1  # OR is a word that must be there too


def test_rm_shows_what_it_would_delete_before_asking(two_threads, monkeypatch):  # noqa: F811
    from chatcli.app.cli import main
    from chatcli.app.environment import Environment

    class Keyboard(io.StringIO):
        def isatty(self) -> bool:
            return True

    answer = Keyboard("n\n")
    monkeypatch.setattr(sys, "stdin", answer)  # where the confirmation question reads
    out, err = Captured(), Captured()
    env = Environment(stdin=answer, stdout=out, stderr=err, environ=dict(two_threads), cwd=Path.cwd())
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["rm", "alpha", "beta"], env)
    said = err.getvalue()
    assert code == 2 and "nothing deleted" in said, said
    assert "alpha  how do penguins keep warm? (4 messages)" in said
    assert "beta  explain quaternions briefly (2 messages)" in said
    assert said.index("(2 messages)") < said.index("Delete 2 threads?")
    assert "alpha" in chat(two_threads, "threads").out


def test_an_empty_list_says_how_to_start(chat_env):
    shown = chat(chat_env, "threads", tty=True)
    assert shown.code == 0 and shown.out == 'no threads yet: chat "a question" starts one\n', shown
    piped = chat(chat_env, "threads")
    assert piped.code == 0 and piped.out == "" and "no threads yet" in piped.err, piped
    assert json.loads(chat(chat_env, "threads", "--json").out) == []


def test_a_long_transcript_goes_through_the_pager_on_a_terminal_only(two_threads, tmp_path):  # noqa: F811
    paged = tmp_path / "paged.txt"
    env = {**two_threads, "PAGER": f"cat > {paged}", "LINES": "5"}
    run = chat(env, "show", "alpha", tty=True)
    assert run.code == 0 and run.out == "", run
    assert "how do penguins keep warm?" in paged.read_text()

    paged.unlink()
    assert "penguins" in chat(env, "show", "alpha").out and not paged.exists()  # a pipe: never
    assert "penguins" in chat({**env, "LINES": "500"}, "show", "alpha", tty=True).out and not paged.exists()
    missing = chat({**env, "PAGER": "no-such-pager-here"}, "show", "alpha", tty=True)
    assert missing.code == 0 and "penguins" in missing.out  # no pager: the text is not lost


async def test_history_goes_through_the_pager_when_long(settings, server, monkeypatch, tmp_path):
    from chatcli.ui.registry import Context
    from tests.test_commands import chat as prompt_chat

    paged = tmp_path / "paged.txt"
    monkeypatch.setenv("PAGER", f"cat > {paged}")
    monkeypatch.setenv("LINES", "5")
    async with prompt_chat(settings) as c:
        await c.ask("tell me about the history of penguins")
        c.out = Captured(tty=True)
        c.ctx = Context(c.conversation, c.output, settings, c.ctx.chat, out=c.out)
        await c.run("/history")
        assert c.out.getvalue() == "" and "history of penguins" in paged.read_text()
        await c.run("/help")  # taller than the screen too: paged as /history is
        assert c.out.getvalue() == "" and "/history" in paged.read_text() and "/retry" in paged.read_text()


def test_importing_a_file_that_is_not_an_export_says_so(chat_env, tmp_path):
    source = tmp_path / "app.py"
    source.write_text("import os\nprint(os.getcwd())\n")
    line = assert_one_error_line(chat(chat_env, "import", str(source)), 2)
    assert (
        f"{source} is not a chatcli JSON export (not JSON" in line
        and "Expecting value" not in line.split("(not JSON")[0]
    )


def test_search_lists_a_threads_hits_in_turn_order(server, chat_env):
    """The best-matching thread first; within a thread, its hits as they were said (turn 2's many matches rank
    higher, yet come after turn 1's)."""
    for question in ("one apple here", "apple apple apple apple apple", "and a last apple"):
        assert chat(chat_env, "-t", "orchard", question).code == 0
    assert chat(chat_env, "-t", "other", "an apple elsewhere").code == 0
    run = chat(chat_env, "search", "apple")
    assert run.code == 0, run
    rows = [line.split("\t") for line in run.out.splitlines()]
    mine = [(int(turn), who) for thread, turn, who, *_ in rows if thread == "orchard"]
    assert [turn for turn, _ in mine] == sorted(turn for turn, _ in mine) and len({t for t, _ in mine}) == 3, rows
    threads = [thread for thread, *_ in rows]
    assert threads == sorted(threads, key=threads.index), rows  # each thread's hits together
