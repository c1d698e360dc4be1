"""An MCP server's listing is bounded as a whole, as its pages arrive: items, bytes and pages of every list (tools,
prompts, resources) and one deadline for all of it, said in one line naming the server (tests/mcp/pages.py pages
as told: without end, slowly, hugely), run on a thread of this process (tests/mcp_servers.in_memory); the peak
memory of a listing cut short is a process's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chatcli.tools.listing import MAX_BYTES, MAX_ITEMS, MAX_PAGES
from tests import mcp_servers
from tests.fakeserver import Reply
from tests.helpers import CHAT, chat
from tests.mcp_servers import in_memory  # noqa: F401 - a fixture
from tests.test_mcp import write_servers

pytestmark = pytest.mark.usefixtures("in_memory")

PAGES = Path(__file__).resolve().parent / "mcp" / "pages.py"
LISTS = ("tools", "prompts", "resources")


def pages(which: str, kind: str, log: Path, **env: str) -> dict:
    return mcp_servers.stdio(PAGES, which, kind, env={"PAGES_LOG": str(log), **env})


def asked(log: Path, what: str) -> int:
    """How many pages of the list ``what`` the server was asked for."""
    lines = log.read_text().splitlines() if log.exists() else []
    return sum(line.startswith(f"{what}/list ") for line in lines)


def failed_line(out: str) -> str:
    """``chat tools``'s line for the server, which must say it failed."""
    (line,) = [line for line in out.splitlines() if line.startswith("pages (stdio")]
    assert " failed: " in line, out
    return line


def test_every_page_of_every_list_is_gathered(chat_env, tmp_path):
    log = tmp_path / "pages.log"
    write_servers(chat_env, {"pages": pages("all", "fine:3", log)})
    run = chat(chat_env, "tools", "--json")
    assert run.code == 0, run
    (listed,) = json.loads(run.out)
    assert listed["state"] == "ready", listed
    own = [t["name"] for t in listed["tools"] if t["name"] != "read_resource"]  # (chat's own, as it lists resources)
    assert len(own) == 6 and len(listed["tools"]) == 7  # three pages of two
    assert [asked(log, what) for what in LISTS] == [3, 3, 3]
    run = chat(chat_env, "tools")  # known from the cache now: prompts and resources of every page among them
    assert run.out.count("/mcp__pages__prompt_") == 6 and run.out.count("@pages:pages://resource_") == 6, run.out


# What each endless server is refused for, and by which page at the latest (the bound is passed there).
ENDLESS = {
    "huge": (f"its lists pass {MAX_BYTES // 2**20} MB (page 1 of its", 1),  # one 9 MB item: refused at it
    "wide": (f"its lists pass {MAX_BYTES // 2**20} MB (page 2 of its", 2),  # 6 MB of 60,000-character items a page
    # Empty pages, each with a 4 MB cursor: page 3 of the tools; page 2 of the prompts or resources, with the tools'
    # bytes before them (one bound for the whole listing).
    "cursor": (f"its lists pass {MAX_BYTES // 2**20} MB (page ", 3),
    "many": (f"it lists more than {MAX_ITEMS:,} ", MAX_ITEMS // 50 + 1),  # 50 small items a page
    "empty": (f"come in more than {MAX_PAGES:,} pages", MAX_PAGES),  # no item, at once, forever
}


@pytest.mark.parametrize("what", LISTS)
@pytest.mark.parametrize("kind", list(ENDLESS))
def test_a_list_without_end_is_refused_in_one_line_once_a_bound_is_passed(chat_env, tmp_path, what, kind):
    log = tmp_path / "pages.log"
    write_servers(chat_env, {"pages": pages(what, kind, log)})
    run = chat(chat_env, "tools")  # the server pages without end: only a bound ends the listing
    assert run.code == 0, run
    said, last_page = ENDLESS[kind]
    last_page -= kind == "cursor" and what != "tools"
    line = failed_line(run.out)
    assert said in line and "the listing is refused ·" in line, line
    assert asked(log, what) == last_page  # cut as it arrived: not one page more asked for
    assert "Traceback" not in run.err and "Error" not in run.out, run
    assert json.loads(chat(chat_env, "tools", "--json").out)[0]["tools"] == []  # nothing of it kept, nor cached


def test_a_refused_listing_is_one_line_naming_the_server_and_the_question_is_answered(server, chat_env, tmp_path):
    log = tmp_path / "pages.log"
    write_servers(chat_env, {"pages": pages("tools", "wide", log)})
    server.queue(Reply("Answered all the same."))
    run = chat(chat_env, "hello")
    assert run.code == 0, run
    assert run.out == "Answered all the same.\n"
    lines = [line for line in run.err.splitlines() if line.strip() and not line.startswith("thread: ")]
    assert lines == [
        f"MCP server pages: its lists pass {MAX_BYTES // 2**20} MB (page 2 of its tools): the listing is refused; "
        "going on without its tools"
    ], run.err
    assert not server.requests[0].get("tools")  # none of its tools offered


@pytest.mark.parametrize("what", LISTS)
def test_a_list_paged_slowly_without_end_is_refused_at_one_deadline(chat_env, tmp_path, monkeypatch, what):
    """Each page comes well within the wait for one (0.2 s of 30): only the whole listing's deadline stops it."""
    monkeypatch.setattr("chatcli.tools.listing.LIST_SECONDS", 2.0)
    log = tmp_path / "pages.log"
    write_servers(chat_env, {"pages": pages(what, "slow", log, PAGES_DELAY="0.2")})
    run = chat(chat_env, "tools")
    assert run.code == 0, run
    line = failed_line(run.out)
    assert "it took more than 2 s to list what it offers (page " in line and f"of its {what})" in line, line
    # Counted by the server's own pace (a page each 0.2 s at the most): listed for 2 s, stopped; not 1,000 pages.
    assert asked(log, what) < 2.0 / 0.2 + 3


async def test_a_server_listed_again_past_a_bound_is_given_up_in_one_line(tmp_path):
    """The other door: a running server's listing gone stale is listed again, by the same bounds."""
    from chatcli.tools.mcp.config import parse_servers
    from chatcli.tools.mcp.server import FAILED, READY, McpServer

    log = tmp_path / "pages.log"
    (spec,) = parse_servers({"mcpServers": {"pages": pages("tools", "wide", log, PAGES_FROM="2")}}, "test")
    notes: list[str] = []
    server = McpServer(spec, tmp_path, note=notes.append)
    server.on_fail = lambda s: notes.append(f"MCP server {s.name}: {s.detail}")
    try:
        await server.ensure()
        assert server.state == READY and server.listing is not None and len(server.listing.tools) == 2
        await server.relist()  # the second listing pages without end, 6 MB a page
        assert server.state == FAILED, server.state
        assert notes == [
            f"MCP server pages: its lists pass {MAX_BYTES // 2**20} MB (page 2 of its tools): the listing is refused"
        ]
        assert asked(log, "tools") == 1 + 2
    finally:
        await server.halt(final=True)


PEAK = textwrap.dedent(
    """
    import resource, subprocess, sys
    run = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(run.returncode, peak, run.stdout, sep="\\n")
    """
)


def peak_of(env: dict[str, str], *args: str) -> tuple[str, int]:
    """``chat ARGS`` run as a process: its output, and the peak resident memory of it and its children (bytes)."""
    done = subprocess.run([sys.executable, "-c", PEAK, str(CHAT), *args], env=env, capture_output=True, text=True)
    code, peak, out = done.stdout.split("\n", 2)
    assert code == "0", done
    return out, int(peak)


@pytest.mark.e2e  # chat and its server as processes: their peak memory is what it measures
def test_endless_9_mb_pages_are_cut_at_the_byte_bound_with_memory_bounded(chat_env, tmp_path):
    """Before: 40 such pages held 469 MB (10 s), 120 pages 1.17 GB, and 1,000 were an OOM kill. Now the listing is
    refused at the page that passes the bound, its peak memory that of a server listed well, plus a page or two."""
    fine = tmp_path / "fine.log"
    write_servers(chat_env, {"pages": pages("tools", "fine:1", fine)})
    _, baseline = peak_of(chat_env, "tools", "--refresh")
    for kind, megabytes in (("huge", "9"), ("wide", "")):
        log = tmp_path / f"{kind}.log"
        write_servers(chat_env, {"pages": pages("tools", kind, log, PAGES_MB=megabytes or "9")})
        out, peak = peak_of(chat_env, "tools", "--refresh")
        assert "the listing is refused" in failed_line(out)
        assert asked(log, "tools") <= 2  # the pages read: not 40 of them (what took 10 s before), nor 1,000
        assert peak - baseline < 100 * 2**20, f"{kind}: {peak / 2**20:.0f} MB against {baseline / 2**20:.0f} MB"
