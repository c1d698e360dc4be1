"""A newcomer's first hour, as the README walks it, with the installed ``chat`` as a process each time: the six
commands, a first question that fails and its retry, a spending limit a person would set in config.toml, a
background reply whose question is answered from the inbox, a cloned project's skill before and after ``chat
trust``, a hooks collection's guard refusing a call under --yes, and the page on a phone (signed in with the link
``chat serve`` prints, the walk's threads there, a question answered live). Each step is tested where its decision
lives too; this is the walk, end to end, so that a step that no longer follows the one before is caught."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests import browser as browsing
from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat_process as chat
from tests.helpers import eventually

pytestmark = pytest.mark.e2e
browser, browse, page_served = browsing.browser, browsing.browse, browsing.page_served  # (the page's step)


def test_the_readme_walk_from_the_first_question_to_the_inbox(server, hosted, isolated_env, tmp_path, request):
    env = {**hosted, "CHATCLI_MODEL": "gpt-5-mini"}
    unproxied = {k: v for k, v in env.items() if k.lower() != "http_proxy"}
    down = chat({**unproxied, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "my first question")
    assert down.code == 4 and "Traceback" not in down.err and len(down.err.strip().splitlines()) <= 3, down
    first = down.err.split("thread: ")[1].split()[0]
    [listed] = json.loads(chat(env, "threads", "--json").out)  # the failed first question is a thread all the same
    assert (listed["thread_id"], listed["title"]) == (first, "my first question"), listed

    server.queue(Reply("Answered at last."))
    retried = chat(env, "--json", "-c", "--again")  # its retry: the same question, asked of the server that answers
    assert retried.code == 0 and json.loads(retried.out)["thread_id"] == first, retried

    config = Path(isolated_env) / ".config" / "chatcli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("max_cost_answer = 0.10\n")  # what a person would set: a hosted model's "hi" still goes
    server.queue(Reply("Rayleigh scattering."), Reply("feat: add the parser"), Reply("As I said: scattering."))
    assert chat(env, "why is the sky blue?").out == "Rayleigh scattering.\n"
    piped = chat(env, "write a commit message", stdin="diff --git a/p.py b/p.py\n+def parse(): ...\n")
    assert piped.code == 0 and "diff --git" in json.dumps(server.requests[-1]["messages"]), piped
    assert chat(env, "-c", "say it again").out == "As I said: scattering.\n"
    titles = [row["title"] for row in json.loads(chat(env, "threads", "--json").out)]
    assert titles[1:] == ["why is the sky blue?", "my first question"], titles
    assert titles[0].startswith("write a commit message") and "langchain" not in piped.err, (titles, piped)

    server.queue(tool_calls(("shell", {"command": "echo from-the-inbox"})), Reply("It printed from-the-inbox."))
    thread = chat(env, "--bg", "--tools", "shell", "run echo", cwd=tmp_path).out.strip()
    eventually(lambda: thread in chat(env, "inbox", "--json").out, "the background reply's question in the inbox")
    answered = chat(env, "inbox", "answer", thread, "yes", cwd=tmp_path)
    assert answered.code == 0 and "goes on in the background" in answered.err, answered
    eventually(lambda: "It printed from-the-inbox." in chat(env, "show", thread).out, "the answer", timeout=60)
    assert "from-the-inbox" in chat(env, "show", thread).out

    # A published skill in a cloned project waits for chat trust; trusted, a one-shot's /NAME runs it.
    cloned = tmp_path / "cloned"
    skill = cloned / ".claude" / "skills" / "brand-guidelines"
    skill.mkdir(parents=True)
    about = "Applies the brand's colours and type to slides and documents."
    (skill / "SKILL.md").write_text(f"---\nname: brand-guidelines\ndescription: {about}\n---\nUse teal and coral.\n")
    waits = chat(env, "/brand-guidelines make a slide", cwd=cloned)
    assert waits.code != 0 and "chat trust" in waits.err and "unknown command" not in waits.err, waits
    assert chat(env, "trust", "--yes", cwd=cloned).code == 0
    server.queue(Reply("A teal slide."))
    assert chat(env, "/brand-guidelines make a slide", cwd=cloned).out == "A teal slide.\n"
    asked = json.dumps(server.requests[-1]["messages"])
    assert "Use teal and coral." in asked and "make a slide" in asked, asked

    # A hooks collection's guard: a PreToolUse hook on Bash reads tool_input.command and refuses rm -rf, under --yes.
    guard = tmp_path / "guard.py"
    guard.write_text(
        "import json, sys\ncommand = json.load(sys.stdin)['tool_input'].get('command', '')\n"
        "if 'rm -rf' in command:\n    print('BLOCKED: rm -rf is not allowed', file=sys.stderr)\n    sys.exit(2)\n"
    )
    hook = {"matcher": "Bash", "hooks": [{"type": "command", "command": f"{sys.executable} {guard}"}]}
    claude = Path(isolated_env) / ".claude"
    claude.mkdir(exist_ok=True)
    (claude / "settings.json").write_text(json.dumps({"hooks": {"PreToolUse": [hook]}}))
    (tmp_path / "build").mkdir()
    server.queue(tool_calls(("shell", {"command": "rm -rf build"})), Reply("The hook stopped me."))
    refused = chat(env, "--yes", "--tools", "shell", "clean the build", cwd=tmp_path)
    assert refused.code == 0 and (tmp_path / "build").is_dir(), refused
    assert "PreToolUse hook" in refused.err and "--yes approves" not in refused.err, refused
    assert "rm -rf is not allowed" in json.dumps(server.requests[-1]["messages"])

    # The page on a phone: signed in with the link chat serve prints, the walk's threads there, a question answered.
    from tests.browser import PHONE
    from tests.test_page import asked, expect, signed_in, threads_shown

    served = request.getfixturevalue("page_served")(env=env)  # (skips here without Chromium: .ci/run has it)
    with request.getfixturevalue("browse")(PHONE, "the newcomer's page") as view:
        signed_in(view, served)
        listed = threads_shown(view, PHONE)
        expect(listed, view.said("the walk's threads")).to_contain_text("why is the sky blue?")
        listed.locator(f'button[data-thread-id="{first}"]').tap()
        server.queue(Reply("The sea mirrors the sky."))
        asked(view, PHONE, "and the sea?")
        answers = view.page.locator('#messages .message[data-role="assistant"]')
        expect(answers.last, view.said("answered live, on the thread")).to_contain_text("The sea mirrors the sky.")
    assert "and the sea?" in chat(env, "show", first).out
