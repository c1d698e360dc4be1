"""Replies that outlive their terminal (``chat --bg``, ``chat jobs``, ``chat attach``, ``chat stop``): the one-shot
answered by a process of its own, listed, followed live from any terminal, stopped with its part kept, and found
interrupted when its process was killed. Each reply here is held by the fake server until the test lets it go, so a
test sees the job running, not a timing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading

import pytest

from tests import test_serve
from tests.fakeserver import Raw, Reply, delta_chunk, sse, tool_calls
from tests.helpers import CHAT, chat, eventually, read_until
from tests.jobs_here import jobs_here  # noqa: F401 - a fixture
from tests.matrix import backends
from tests.mcp_servers import chat_argv
from tests.test_mcp_kept import alive

# A test about the job's process (a signal, a kill, a terminal, its environment) starts one, in the e2e run; the
# others answer their jobs in this process (tests/jobs_here.py).
process = pytest.mark.e2e
here = pytest.mark.usefixtures("jobs_here")
serving_here = test_serve.here  # chat serve's app in this process (a fixture): its background replies are processes


def held(first: str, rest: str, gate: threading.Event) -> Raw:
    """A streamed answer: ``first``, then ``rest`` once ``gate`` is set."""
    return Raw(
        [
            sse(delta_chunk({"role": "assistant", "content": first})),
            lambda: gate.wait(60),
            sse(delta_chunk({"content": rest})),
            sse(delta_chunk({}, finish_reason="stop")),
            b"data: [DONE]\n\n",
        ]
    )


def listed(env: dict[str, str]) -> list[dict]:
    run = chat(env, "jobs", "--json")
    assert run.code == 0, run
    return json.loads(run.out)


def job_of(env: dict[str, str], thread: str) -> dict:
    (found,) = [j for j in listed(env) if j["thread_id"] == thread]
    return found


def state(env: dict[str, str], thread: str, wanted: str, chars: int = 0) -> dict:
    return eventually(
        lambda: (j := job_of(env, thread))["state"] == wanted and j["chars"] >= chars and j,
        f"the job of {thread} to be {wanted}",
        timeout=60,
    )


@pytest.fixture
def chat_env(chat_env: dict[str, str]) -> dict[str, str]:
    """chat_env with a stall clock longer than any test here: a reply is held by its gate until the test lets it go,
    and a busy machine can take seconds to start the next process (the 5 s clock would end a held job as stalled)."""
    return {**chat_env, "CHATCLI_TIMEOUT": "300"}


@pytest.fixture
def job_envs(chat_env, warm_env):
    """``chat --bg`` run the normal way, and through the warm worker."""
    return {"cold": chat_env, "worker": warm_env}


@here
def test_bg_returns_at_once_and_the_reply_goes_on_listed_and_kept(server, chat_env):
    gate = threading.Event()
    server.queue(held("Once upon", " a time.", gate))
    try:
        run = chat(chat_env, "--bg", "tell me a story")
        assert run.code == 0 and "answering in the background as job" in run.err, run
        thread = run.out.strip()
        running = state(chat_env, thread, "running", chars=len("Once upon"))
        assert running["question"] == "tell me a story"
        lines = chat(chat_env, "jobs").out.splitlines()
        assert any(line.startswith(running["id"]) and "running" in line and thread in line for line in lines), lines
    finally:
        gate.set()
    state(chat_env, thread, "done")
    shown = chat(chat_env, "show", thread)
    assert "tell me a story" in shown.out and "Once upon a time." in shown.out, shown


@process
@here
def test_attach_shows_what_arrived_then_the_rest_live_in_several_terminals(server, chat_env):
    gate = threading.Event()
    server.queue(held("First part,", " then the rest.", gate))
    try:
        thread = chat(chat_env, "--bg", "go").out.strip()
        job = state(chat_env, thread, "running", chars=len("First part,"))["id"]
        attached = [
            subprocess.Popen(
                chat_argv(CHAT, "attach", job), env=chat_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        for process in attached:
            assert process.stdout is not None
            read_until(process.stdout, b"First part,", timeout=30)  # what arrived before it attached
    finally:
        gate.set()
    for process in attached:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert out.decode().endswith(" then the rest.\n"), out


@process
def test_stop_keeps_the_part_that_arrived_and_attach_then_says_so(server, chat_env, serving_here):
    """``chat stop``, and chat serve's stop route (the page's Stop) after it: the same stop, the part kept."""
    served = serving_here()
    for how in ("chat stop", "serve"):
        gate = threading.Event()
        server.queue(held("The part kept", " and never this.", gate))
        try:
            thread = chat(chat_env, "--bg", "go").out.strip()
            job = state(chat_env, thread, "running", chars=len("The part kept"))["id"]
            if how == "chat stop":
                stopped = chat(chat_env, "stop", job)
                assert stopped.code == 0 and f"stopped job {job}" in stopped.err, stopped
            else:
                status, said = served.request("POST", f"/v1/jobs/{job}/stop")
                assert status == 200 and said == {"id": job, "stopped": True, "state": "stopped"}, said
            assert state(chat_env, thread, "stopped")["id"] == job, how
        finally:
            gate.set()
        shown = chat(chat_env, "show", thread).out
        assert "The part kept" in shown and "never this" not in shown, (how, shown)
        again = chat(chat_env, "stop", job)
        assert again.code == 0 and "is not running (stopped)" in again.err, again
    assert served.request("POST", f"/v1/jobs/{job}/stop")[1]["stopped"] is False  # ended: nothing to stop


@process
def test_a_job_whose_process_was_killed_is_listed_interrupted_and_its_thread_keeps_the_words(server, chat_env):
    gate = threading.Event()
    server.queue(held("Half", " and the rest.", gate))
    try:
        thread, job = killed_mid_answer(chat_env, [], "go", "Half")
    finally:
        gate.set()
    attached = chat(chat_env, "attach", job["id"])
    assert attached.out == "Half\n" and "ended before its answer did" in attached.err, attached
    assert f"chat attach {job['id']} --go-on" in attached.err  # offered: go on from there
    shown = chat(chat_env, "show", thread).out  # the question and the words that arrived, marked not whole
    assert "go" in shown and "Half" in shown and "the rest" not in shown, shown
    assert "[answer incomplete: interrupted]" in shown, shown

    server.queue(Reply("The whole answer."))
    gone_on = chat(chat_env, "attach", job["id"], "--go-on")
    assert gone_on.code == 0 and gone_on.out == "The whole answer.\n", gone_on
    assert "answered again as job" in gone_on.err
    assert [j["state"] for j in listed(chat_env) if j["thread_id"] == thread] == ["done", "interrupted"]
    assert "The whole answer." in chat(chat_env, "show", thread).out
    done = listed(chat_env)[0]["id"]
    refused = chat(chat_env, "attach", done, "--go-on")
    assert refused.code == 2 and f"job {done} is done: nothing to go on with" in refused.err, refused


@here
def test_piped_text_goes_with_a_background_question(server, chat_env):
    server.queue(Reply("Summed up."))
    thread = chat(chat_env, "--bg", "summarise this", stdin=b"the piped text").out.strip()
    state(chat_env, thread, "done")
    assert "the piped text" in json.dumps(server.requests[-1]), server.requests[-1]


@here
def test_a_call_that_needs_approval_leaves_the_job_waiting_for_you(server, chat_env, tmp_path):
    server.queue(tool_calls(("shell", {"command": "echo hi"})))
    thread = chat(chat_env, "--bg", "--tools", "shell", "run echo", cwd=tmp_path).out.strip()
    found = state(chat_env, thread, "waiting")
    assert any("waiting for you" in line for line in chat(chat_env, "jobs").out.splitlines())
    attached = chat(chat_env, "attach", found["id"])
    assert f"waits for you: chat inbox answer {thread} answers it" in attached.err, attached


@here
def test_rm_removes_all_of_a_thread_its_kept_files_jobs_inbox_entry_and_labels(server, chat_env, tmp_path):
    """A thread waiting in the inbox on its background reply, with a tool's file kept and a node labelled: ``chat rm``
    leaves nothing of it: no job listed or kept on disk, no inbox entry, no kept file, no label for a later thread
    of the same name to inherit."""
    import asyncio
    import base64
    from pathlib import Path

    from chatcli.config import load_settings
    from chatcli.threads.opening import open_threads
    from chatcli.tools.kept_files import keep

    server.queue(tool_calls(("shell", {"command": "echo hi"})), tool_calls(("shell", {"command": "echo hi"})))
    thread = chat(chat_env, "--bg", "--tools", "shell", "run echo", cwd=tmp_path).out.strip()
    job = state(chat_env, thread, "waiting")
    named = chat(chat_env, "--bg", "--new-thread", "named", "--tools", "shell", "run echo", cwd=tmp_path)
    assert named.code == 0 and named.out.strip() == "named", named
    other = state(chat_env, "named", "waiting")
    kept = keep({"base64": base64.b64encode(b"\x89PNG").decode(), "mime_type": "image/png"}, thread)
    assert kept is not None and kept.exists()

    async def labels(label: str | None = None) -> dict:
        async with open_threads(load_settings({}, environ=chat_env, cwd=tmp_path)) as threads:
            if label:
                await threads.store.index.label(thread, 1, label)
            return await threads.store.index.labels(thread)

    assert asyncio.run(labels("mine")) == {1: ["mine"]}
    assert thread in chat(chat_env, "inbox", "--json").out
    gone = chat(chat_env, "rm", "--yes", thread)
    assert gone.code == 0, gone
    assert [j for j in listed(chat_env) if j["thread_id"] == thread] == []
    assert not list((Path(chat_env["XDG_DATA_HOME"]) / "chatcli" / "jobs").glob(f"{job['id']}.*"))
    assert thread not in chat(chat_env, "inbox", "--json").out
    assert not kept.parent.exists()
    assert asyncio.run(labels()) == {}
    assert chat(chat_env, "rm", "--yes", "named").code == 0  # a job started under a new thread's name goes too
    assert [j for j in listed(chat_env) if j["id"] == other["id"]] == []


@here
@pytest.mark.parametrize(
    "args, said",
    [
        (["--bg"], "--bg answers a question"),
        (["--bg", "--resume", "yes", "-t", "x"], "--resume answers what a thread waits on"),
        (["--bg", "--remote", "http://127.0.0.1:9", "--header", "x-api-key: k", "q"], "--bg does not take --header"),
        (["--bg", "--remote", "http://127.0.0.1:9", "-t", "3c5f", "q"], "the thread's whole id (a UUID)"),
        (["--bg", "--remote", "http://127.0.0.1:9", "-c", "q"], "not --continue"),
        (["--bg", "--again", "-t", "x"], "--again answers the last one again"),
        (["--bg", "--role", "nosuchrole", "q"], "no role 'nosuchrole'"),
        (["--bg", "--attach", "/nonexistent/file.txt", "q"], "--attach /nonexistent/file.txt: no such file"),
    ],
)
def test_what_bg_cannot_do_is_one_line(chat_env, args, said):
    run = chat(chat_env, *args)
    assert run.code == 2 and said in run.err and "Traceback" not in run.err, run
    assert listed(chat_env) == []


@here
def test_a_node_the_thread_has_not_is_one_line_before_anything_starts(server, chat_env):
    server.queue(Reply("first"))
    assert chat(chat_env, "-t", "abc", "first").code == 0
    run = chat(chat_env, "--bg", "-t", "abc", "--at", "99", "q")
    assert run.code == 2 and "no node '99' in thread abc" in run.err and "chat tree abc" in run.err, run
    assert listed(chat_env) == []


@here
def test_attach_and_stop_without_such_a_job_are_one_line(chat_env):
    for args in (["attach"], ["attach", "nope"], ["stop", "nope"]):
        run = chat(chat_env, *args)
        assert run.code == 2 and "Traceback" not in run.err, run


@process
def test_ctrl_c_and_closing_the_terminal_that_started_it_do_not_stop_it(server, chat_env, tmp_path):
    """Started from a shell in a terminal, in a command line that goes on (``( chat --bg ...; sleep )``, one job of the
    shell's, one process group): Ctrl-C typed for the rest of the line, then the terminal closing (SIGHUP to its
    session), reach the shell's job but not the reply, which goes on to its end in a session of its own."""
    import pexpect

    gate = threading.Event()
    server.queue(held("Still", " here.", gate))
    said = tmp_path / "id"
    shell = pexpect.spawn("bash", ["--norc", "--noprofile", "-i"], env=chat_env, encoding="utf-8", timeout=60)
    try:
        shell.sendline(f"( {CHAT} --bg go > {said}; echo STARTED; sleep 60 )")
        shell.expect(r"[\r\n]STARTED\r?\n")  # its output (not the echo of the line typed)
        thread = said.read_text().strip()
        state(chat_env, thread, "running", chars=len("Still"))
        shell.sendintr()  # Ctrl-C: the shell's job (the sleep) stops
        shell.sendline("echo BACK")
        shell.expect(r"[\r\n]BACK\r?\n")
        shell.close(force=True)  # the terminal is gone: its session is hung up
        assert state(chat_env, thread, "running")
    finally:
        gate.set()
    state(chat_env, thread, "done")
    assert "Still here." in chat(chat_env, "show", thread).out


@here
def test_at_most_max_jobs_run_at_once_and_one_more_is_one_line(server, chat_env):
    env = {**chat_env, "CHATCLI_MAX_JOBS": "1"}
    gate = threading.Event()
    server.queue(held("One", " done.", gate))
    try:
        thread = chat(env, "--bg", "one").out.strip()
        state(env, thread, "running", chars=len("One"))
        refused = chat(env, "--bg", "two")
        assert refused.code == 2 and "1 background reply is running already" in refused.err, refused
        assert "(max_jobs = 1): nothing was started" in refused.err and len(listed(env)) == 1
    finally:
        gate.set()
    state(env, thread, "done")
    server.queue(Reply("Two."))
    second = chat(env, "--bg", "two").out.strip()
    assert state(env, second, "done")["question"] == "two"


@here
def test_a_background_call_waiting_is_in_the_inbox_and_answered_there(server, chat_env, tmp_path):
    server.queue(tool_calls(("shell", {"command": "echo inbox-ran"})))
    server.queue(Reply("It said inbox-ran."))
    thread = chat(chat_env, "--bg", "--tools", "shell", "run echo", cwd=tmp_path).out.strip()
    state(chat_env, thread, "waiting")
    # Once the job says it waits, its question is in the inbox: the thread keeps the inbox before its end is told.
    (row,) = json.loads(chat(chat_env, "inbox", "--json").out)
    assert row["thread_id"] == thread and row["title"] == "run echo"
    assert [a["kind"] for a in row["asked"]] == ["approval"] and "echo inbox-ran" in row["asked"][0]["text"]
    listed_text = chat(chat_env, "inbox")
    assert thread in listed_text.out and "approval" in listed_text.out, listed_text
    answered = chat(chat_env, "inbox", "answer", thread, "yes", cwd=tmp_path)
    assert answered.code == 0 and "goes on in the background" in answered.err, answered
    eventually(lambda: json.loads(chat(chat_env, "inbox", "--json").out) == [], "the inbox to empty", timeout=60)
    done = eventually(
        lambda: [j for j in listed(chat_env) if j["thread_id"] == thread and j["state"] == "done"],
        "the answered job to end",
        timeout=60,
    )
    assert done
    shown = chat(chat_env, "show", thread).out
    assert "inbox-ran" in shown and "It said inbox-ran." in shown, shown
    # The first job waits no more: listed as answered, and attach says where the thread went on.
    first, later = sorted((j for j in listed(chat_env) if j["thread_id"] == thread), key=lambda j: j["state"])
    assert (first["state"], later["state"]) == ("answered", "done"), (first, later)
    attached = chat(chat_env, "attach", first["id"])
    assert f"was answered: thread {thread} went on as job {later['id']}" in attached.err, attached
    assert "waits for you" not in attached.err and "waiting for you" not in chat(chat_env, "jobs").out


def shell_in_a_terminal(env: dict[str, str]):
    import pexpect

    shell = pexpect.spawn("bash", ["--norc", "--noprofile", "-i"], env=env, encoding="utf-8", timeout=60)
    shell.sendline("PS1='$ '; echo READY")
    shell.expect(r"[\r\n]READY\r?\n")
    return shell


@process
def test_the_terminal_that_started_it_is_told_its_end_at_the_prompt_and_the_desktop_too(server, job_envs, tmp_path):
    """With ``notify = "desktop"``: a line in the terminal whose shell waits at its prompt, and ``notify-send``;
    started the normal way and through the warm worker (whose process is not in the terminal's session)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for how, chat_env in job_envs.items():
        sent = tmp_path / f"notified-{how}"
        (bin_dir / "notify-send").write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {sent}\n')
        (bin_dir / "notify-send").chmod(0o755)
        env = {**chat_env, "PATH": f"{bin_dir}:{chat_env['PATH']}", "CHATCLI_NOTIFY": "desktop"}
        gate = threading.Event()
        server.queue(held("Told", " you.", gate))
        said = tmp_path / f"id-{how}"
        shell = shell_in_a_terminal(env)
        try:
            shell.sendline(f"{CHAT} --bg go > {said}; echo STARTED")
            shell.expect(r"[\r\n]STARTED\r?\n")
            thread = said.read_text().strip()
            job = state(env, thread, "running", chars=len("Told"))["id"]
            gate.set()
            shell.expect_exact(f"chat: background reply {job} done: chat attach {job}")
        finally:
            gate.set()
            shell.close(force=True)
        assert eventually(
            lambda: sent.exists() and f"background reply {job} done" in sent.read_text(), f"notify-send ({how})", 60
        )


@process
def test_a_program_in_the_foreground_of_that_terminal_is_never_written_into(server, chat_env, tmp_path):
    gate = threading.Event()
    server.queue(held("Quiet", " please.", gate))
    said = tmp_path / "id"
    shell = shell_in_a_terminal(chat_env)
    try:
        shell.sendline(f"{CHAT} --bg go > {said}; cat; echo CAT-DONE")  # cat holds the terminal, as an editor would
        thread = eventually(lambda: said.exists() and said.read_text().strip(), "the thread id")
        job = state(chat_env, thread, "running", chars=len("Quiet"))["id"]
        gate.set()
        ended = state(chat_env, thread, "done")
        # The job's process says its end last of all (the terminal is told, or not, as it exits): cat holds the
        # terminal until then.
        eventually(lambda: not alive(ended["pid"]), "the job's process to end", timeout=60)
        shell.sendeof()  # cat ends: the shell is back at its prompt
        shell.expect(r"[\r\n]CAT-DONE\r?\n")
        shell.sendline("echo BACK")
        shell.expect(r"[\r\n]BACK\r?\n")
        assert f"background reply {job}" not in (shell.before or ""), shell.before
    finally:
        gate.set()
        shell.close(force=True)


@process
def test_jobs_watch_says_each_start_and_end_until_ctrl_c(server, chat_env):
    gate = threading.Event()
    server.queue(held("Watched", " over.", gate))
    watcher = subprocess.Popen(
        chat_argv(CHAT, "jobs", "--watch", "--json"), env=chat_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        thread = chat(chat_env, "--bg", "go").out.strip()
        assert watcher.stdout is not None
        first = json.loads(read_until(watcher.stdout, b"\n", timeout=30))
        assert (first["thread_id"], first["state"]) == (thread, "running"), first
        gate.set()
        second = json.loads(read_until(watcher.stdout, b"\n", timeout=30))
        assert (second["thread_id"], second["state"]) == (thread, "done"), second
        watcher.send_signal(signal.SIGINT)
        try:
            code = watcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            watcher.kill()
            code = watcher.wait()
        assert watcher.stderr is not None
        os.set_blocking(watcher.stderr.fileno(), False)  # what it said so far, if it still holds the pipe
        assert code == 0, f"chat jobs --watch after Ctrl-C: exit {code}, said {watcher.stderr.read()!r}"
    finally:
        gate.set()
        watcher.kill()


@here
def test_bg_at_the_prompt_frees_it_at_once_and_says_above_it_when_the_reply_ends(server, chat_env):
    from tests.doors.prompt import Typed

    gate = threading.Event()
    server.queue(held("Behind", " your back.", gate))
    typed = Typed(chat_env, ["--thread", "bgprompt"])
    try:
        said = "\n".join(typed.say("/bg -tell me a story"))  # a question that starts like a flag is still a question
        assert "answering in the background as job" in said, typed
        job = state(chat_env, "bgprompt", "running", chars=len("Behind"))
        assert job["question"] == "-tell me a story"
        gate.set()
        done = f"background reply {job['id']} done: chat attach {job['id']}"
        eventually(lambda: done in typed.text, "the prompt to say the reply ended", 60)
        assert "chat: background reply" not in typed.text, typed  # said once, by the prompt, not the job too
    finally:
        gate.set()
        assert typed.leave() == 0, typed
    shown = chat(chat_env, "show", "bgprompt").out
    assert "-tell me a story" in shown and "Behind your back." in shown, shown


@process
def test_ctrl_b_moves_the_streaming_reply_to_the_background_and_frees_the_prompt(server, chat_env, start):
    """Ctrl-B while a reply streams at the prompt: the part shown is kept in the thread's tree, the question is asked
    again by a background reply, the prompt is free at once (keys typed during the reply are at it, as typed) and
    says above itself when the reply ends."""
    gate = threading.Event()
    server.queue(held("Once upon", " a time.", gate), Reply("Answered in the background."), Reply("Next one."))
    repl = start("--thread", "moved")
    try:
        at = repl.say("tell me a story")
        repl.wait_for("Once upon", after=at)
        repl.child.send("and then")  # typed during the reply: for the next prompt
        repl.child.send("\x02")
        repl.wait_for("moved to the background as job", after=at)
        repl.wait_prompt()
        repl.wait_for("> and then", after=at)
    finally:
        gate.set()
    job = state(chat_env, "moved", "done")
    assert job["question"] == "tell me a story"
    repl.wait_for(f"background reply {job['id']} done", after=at, timeout=60)
    said = repl.mark()
    repl.child.send("?\r")
    repl.wait_for("Next one.", after=said, timeout=30)
    asked = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "user"]
    assert asked == ["tell me a story"], asked  # asked again from where it was, not after the part cut off
    shown = chat(chat_env, "show", "moved").out
    assert "Answered in the background." in shown and "and then?" in shown and "Next one." in shown, shown
    tree = chat(chat_env, "tree", "moved").out
    assert "Once upon" in tree, tree  # the part shown, kept as a branch of its own


@process
def test_a_reply_streaming_when_its_terminal_closes_goes_on_only_if_set(server, chat_env):
    """terminal_closed = "background": the reply streaming at the prompt when its terminal closes is asked again by a
    background reply (nobody is there to be told); "stop" (the default) keeps the part that arrived, as Ctrl-C."""
    from tests.helpers import Repl

    for setting in ("stop", "background"):
        gate = threading.Event()
        server.queue(held("Half", " of it.", gate), Reply("The whole of it."))
        repl = Repl(["--thread", f"closed-{setting}"], {**chat_env, "CHATCLI_TERMINAL_CLOSED": setting})
        try:
            repl.wait_prompt()
            at = repl.say("say it")
            repl.wait_for("Half", after=at)
            pid = repl.child.pid
            assert repl.hang_up() == 129, setting  # hung up, as it says
        finally:
            gate.set()
            with contextlib.suppress(Exception):  # reaped already
                repl.kill()
        shown = chat(chat_env, "show", f"closed-{setting}").out
        if setting == "stop":
            assert not [j for j in listed(chat_env) if j["thread_id"] == f"closed-{setting}"]
            assert "Half" in shown and "The whole of it." not in shown, shown
            server.clear()  # the whole answer it did not ask for
            continue
        job = state(chat_env, f"closed-{setting}", "done")
        assert job["question"] == "say it" and job["pid"] != pid
        assert "The whole of it." in chat(chat_env, "show", f"closed-{setting}").out


@process
def test_a_reply_moved_to_the_background_keeps_what_bounds_it(server, chat_env, start):
    """The background reply Ctrl-B starts may do no more than the prompt it left: its sandbox and its spending limit
    (given to the prompt as flags) are the job's too, and what shapes the answer (the temperature) goes with it."""
    from chatcli.service.jobs import JobSpec, directory

    gate, again = threading.Event(), threading.Event()
    server.queue(held("Slowly", " now.", gate), held("Again", " now.", again))
    repl = start("--thread", "bounded", "--sandbox", "read-only", "--max-cost", "0.5", "--temperature", "0.3")
    try:
        at = repl.say("take your time")
        repl.wait_for("Slowly", after=at)
        repl.child.send("\x02")
        repl.wait_for("moved to the background as job", after=at)
        job = state(chat_env, "bounded", "running", chars=len("Again"))
        spec = JobSpec.of_json((directory(chat_env) / f"{job['id']}.in").read_bytes())  # its stdin
        given = spec.overrides
        assert (given.get("sandbox"), given.get("max_cost_answer")) == ("read-only", 0.5), given
        assert server.requests[-1].get("temperature") == 0.3, server.requests[-1]
    finally:
        gate.set()
        again.set()
    state(chat_env, "bounded", "done")


@process
def test_a_reply_that_cannot_move_to_the_background_goes_on_here(server, chat_env, start, tmp_path):
    """Ctrl-B on a reply that ran a tool call (asked again, the call would run again), or with max_jobs replies
    running already, says why in one line and the reply goes on at the prompt: nothing is stopped or started."""
    (tmp_path / "a.txt").write_text("alpha\n")
    for why in ("a tool call ran", "max_jobs"):
        gate, other = threading.Event(), threading.Event()
        env, thread = chat_env, f"stays-{why.replace(' ', '-')}"
        if why == "max_jobs":
            env = {**chat_env, "CHATCLI_MAX_JOBS": "1"}
            server.queue(held("Busy", " elsewhere.", other))
            busy = chat(env, "--bg", "-t", "elsewhere", "something long").out.strip()
            state(env, busy, "running", chars=len("Busy"))
        else:
            server.queue(tool_calls(("read_file", {"path": str(tmp_path / "a.txt")})))
        server.queue(held("Here", " it stays.", gate))
        repl = start("--thread", thread, "--tools", "files", "--yes", env=env)
        try:
            at = repl.say("read it" if why != "max_jobs" else "stay here")
            repl.wait_for("Here", after=at)
            repl.child.send("\x02")
            repl.wait_for("not moved:", after=at)
            gate.set()
            repl.wait_for("it stays.", after=at)
            repl.wait_prompt()
        finally:
            gate.set()
            other.set()
        assert not [j for j in listed(env) if j["thread_id"] == thread], why
        assert "Here it stays." in chat(env, "show", thread).out, why


def every_process_holding(*secrets: str) -> list[str]:
    """Each process of this machine whose command line or environment holds one of ``secrets``: what it is."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for part in ("cmdline", "environ"):
            with contextlib.suppress(OSError):
                text = open(f"/proc/{pid}/{part}", "rb").read().decode("utf-8", "replace")
                found += [f"{pid} {part}: {text[:200]!r}" for secret in secrets if secret in text]
    return found


@process
def test_nothing_of_a_question_is_on_a_command_line_or_in_an_environment(server, job_envs, tmp_path):
    """A job's command line is any local user's to read (/proc/PID/cmdline): a background reply's question, system
    prompt, variables and database (``--db`` may be a URL with its password) reach it on a private channel (its spec,
    on its stdin). While it runs, no process of this machine (the job, the worker, the MCP host, whatever else chat
    started) has any of them in its command line or its environment, nor a provider's key on its command line. Started
    the normal way and through the warm worker."""
    for how, job_env in job_envs.items():
        gate = threading.Event()
        server.queue(held("Kept", " here.", gate))
        db = str(tmp_path / f"secret-place-{how}.sqlite")
        question, system, value = "where is my bank PIN 4711", "you are my notary 8126", "vault-9931"
        try:
            thread = chat(job_env, "--bg", "--db", db, "--system", system, "--var", f"box={value}", question)
            job = state(job_env, thread.out.strip(), "running", chars=len("Kept"))
            assert job["pid"] and every_process_holding(question, system, value, "secret-place") == [], how
            on_command_lines = [p for p in every_process_holding(job_env["OPENAI_API_KEY"]) if "cmdline" in p]
            assert on_command_lines == [], f"a key on a command line ({how})"
        finally:
            gate.set()
        state(job_env, thread.out.strip(), "done")
        assert "Kept here." in chat(job_env, "show", thread.out.strip(), "--db", db).out, how
        assert server.requests[-1]["messages"][0]["content"].startswith(system), server.requests[-1]


# --------------------------------------------------------------------------- on an Agent Server (--remote)


def killed_mid_answer(env: dict[str, str], args: list[str], question: str, first: str) -> tuple[str, dict]:
    """``chat --bg ARGS QUESTION`` started, its process killed once ``first`` has arrived: its thread and job."""
    thread = chat(env, "--bg", *args, question).out.strip()
    job = state(env, thread, "running", chars=len(first))
    os.kill(job["pid"], signal.SIGKILL)
    state(env, thread, "interrupted")
    return thread, job


@backends("remote")
def test_a_remote_background_reply_is_the_servers_run_joined_after_its_process_died(backend):
    """``chat --bg --remote``: the job asks the server, which runs the reply as its own run; with the job's process
    killed mid-answer, the run goes on there, ``chat attach`` joins it and shows the whole answer, and ``chat stop``
    stops a run whose process is gone on the server."""
    env, model = backend.env, backend.model
    model.queue(Reply("The server's answer."))
    started = chat(env, "--bg", *backend.args, "a question")
    assert started.code == 0 and "answering in the background as job" in started.err, started
    thread = started.out.strip()
    done = state(env, thread, "done")
    attached = chat(env, "attach", done["id"])
    assert attached.out == "The server's answer.\n", attached

    gate = threading.Event()
    model.queue(held("Half of it", " and the rest, said after the job died.", gate))
    try:
        thread, job = killed_mid_answer(env, backend.args, "another", "Half of it")
    finally:
        gate.set()  # the server's run goes on: attach joins it (from its start) while it runs
    joined = chat(env, "attach", job["id"])
    assert joined.code == 0 and joined.out == "Half of it and the rest, said after the job died.\n", joined
    assert "joining it there" in joined.err, joined
    from langgraph_sdk import get_sync_client

    from tests.remote_server import KEY

    kept = get_sync_client(url=backend.args[1], api_key=KEY).threads.get_state(thread)["values"]["messages"]
    assert kept[-1]["content"] == "Half of it and the rest, said after the job died.", kept  # the server's thread
    again = chat(env, "attach", job["id"])  # the run has ended: the job's own run, as the server kept it
    assert again.out == joined.out, again

    # Another run on the thread (the user at the prompt, or another client): never the dead job's to stop or show.
    live = threading.Event()
    model.queue(held("The user's own run", " goes on to its end.", live))
    own = subprocess.Popen(chat_argv(CHAT, *backend.args, "-t", thread, "my own question"), env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert own.stdout is not None
        read_until(own.stdout, b"The user's own run", timeout=60)
        refused = chat(env, "stop", job["id"])
        assert "is not running" in refused.err and "stopped" not in refused.err, refused
    finally:
        live.set()
    out, err = own.communicate(timeout=60)
    assert own.returncode == 0 and b"goes on to its end." in out, (out, err)
    assert chat(env, "attach", job["id"]).out == joined.out  # still the job's answer, not the user's

    gate = threading.Event()
    model.queue(held("Never finished", " and never this.", gate))
    try:
        thread, job = killed_mid_answer(env, backend.args, "a third", "Never finished")
        stopped = chat(env, "stop", job["id"])
        assert stopped.code == 0 and "run on the server" in stopped.err, stopped
    finally:
        gate.set()
    again = chat(env, "stop", job["id"])
    assert "is not running" in again.err, again

    # /bg at the prompt on a server's thread: the job asks that server, on that thread.
    from tests.doors.prompt import Typed

    model.queue(Reply("Answered on the server in the background."))
    at_prompt = Typed(env, [*backend.args, "-t", thread])
    try:
        out, err = at_prompt.say("/bg from the prompt")
        assert "answering in the background as job" in out + err, at_prompt
        ended = eventually(
            lambda: [j for j in listed(env) if j["question"] == "from the prompt" and j["state"] != "running"],
            "the prompt's background reply to end",
            timeout=60,
        )
        assert ended[0]["state"] == "done", ended
    finally:
        assert at_prompt.leave() == 0
    said = chat(env, "attach", ended[0]["id"])
    assert said.out == "Answered on the server in the background.\n", said


@backends("remote")
def test_bg_on_a_server_opened_with_a_header_is_one_line_and_starts_nothing(backend):
    """A background reply could not send the --header a prompt was opened with (it would sit on the job's command
    line): /bg says so in one line, starts no job, and the prompt goes on."""
    from tests.doors.prompt import Typed

    backend.model.queue(Reply("Still here."))
    at_prompt = Typed(backend.env, [*backend.args, "--header", "X-Trace: 1"])
    try:
        out, err = at_prompt.say("/bg in the background")
        assert "cannot send this server the --header" in out + err and "LANGGRAPH_API_KEY" in out + err, at_prompt
        out, err = at_prompt.say("and here")
        assert "Still here." in out, at_prompt
    finally:
        assert at_prompt.leave() == 0
    assert listed(backend.env) == []


@process
@pytest.mark.skipif(os.getuid() != 0, reason="becoming another user needs root")
def test_a_remote_jobs_recorded_server_taken_by_another_user_is_sent_nothing(chat_env, tmp_path):
    """A remote job's server is read back from its record, not named in this run: when another user listens on its
    port now (the user's dev server gone, the port taken), chat attach and chat stop refuse it in one line and send
    nothing there, the server's key least of all."""
    import time

    from chatcli.service.jobs import directory
    from tests.test_trust_loopback import Stranger

    env = {**chat_env, "LANGSMITH_API_KEY": "lsv2-the-users-own-SECRET"}
    stranger = Stranger("127.0.0.1")
    try:
        record = {"id": "abc123", "thread": "3ff851ee-04cd-430d-b76a-d618a9d3c2ab", "question": "q", "pid": 999999,
                  "ticks": 1, "started": time.time(), "cwd": str(tmp_path),
                  "remote": f"http://127.0.0.1:{stranger.port}", "assistant": None}  # fmt: skip
        where = directory(env)
        (where / "abc123.json").write_text(json.dumps(record))
        (where / "abc123.jsonl").write_text("")
        for command in ("attach", "stop"):
            run = chat(env, command, "abc123")
            assert run.code == 4 and "another user's listener on this machine (uid 65534)" in run.err, run
            assert "nothing was sent there" in run.err and "SECRET" not in run.err, run
        # A background reply connects as recorded, never as named: one asked of that address is refused at once.
        for host in ("127.0.0.1", "localhost"):  # (a name, resolved)
            started = chat(env, "--bg", "--remote", f"http://{host}:{stranger.port}", "q")
            assert started.code == 2 and "another user's listener on this machine (uid 65534)" in started.err, started
            assert "chat --remote" in started.err and [j["id"] for j in listed(env)] == ["abc123"], started
        assert stranger.connections() == []  # nothing reached it
    finally:
        stranger.stop()


def test_no_launcher_is_given_the_serve_token_of_the_run_that_starts_a_job(chat_env, tmp_path):
    """What a job's process is never given (the token of the chat serve it came from) is withheld where a job starts,
    whatever launches it: its own process, the tests' warm one or a thread here."""
    from chatcli.service.jobs import LAUNCHER, JobSpec, start

    given: list[dict[str, str]] = []
    token = LAUNCHER.set(lambda _spec, _out, _err, environ, _cwd: given.append(dict(environ)) or 0)
    try:
        start(JobSpec(None, "hello"), {**chat_env, "CHATCLI_SERVE_TOKEN": "s3cret"}, tmp_path, "hello", most=4)
    finally:
        LAUNCHER.reset(token)
    assert len(given) == 1 and "CHATCLI_SERVE_TOKEN" not in given[0] and given[0]["HOME"] == chat_env["HOME"]
