"""A sentence typed at a question never answers it, in a real terminal, at each kind of question chat asks.

The question appears while the user is typing their next message, or they type one at it without looking: every
letter is some question's key ("my next question" holds a y after an m). Typed at a person's speed (0.15 s a key,
and a fast typist's 0.05), the sentence approves, edits and declines nothing: the question says once that typing
is no answer and waits; a key pressed on its own then answers. At a tool call's question, an MCP server's
question and a LangGraph app's approval; at the prompt, and in a one-shot whose stdin is a pipe (the question is
asked on the terminal). The class, every word and sentence at every speed, is tests/test_deliberate.py.
"""

from __future__ import annotations

import re
import shlex
import time

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import CHAT, Repl
from tests.test_graph_app import AGENT
from tests.test_mcp import write_servers
from tests.test_mcp_asking import asking, ran
from tests.test_tools_pty import QUESTION, READY, answer, wait_asked

pytestmark = pytest.mark.e2e

TYPING = "(that was typing, not an answer: nothing was run; press one key on its own)"
FORM = "Answer it? [y]es / [N]o, decline / Ctrl-C cancels:"
SENTENCES = ["my next question is about yaml", "yes and also edit the readme please"]


def type_slowly(repl: Repl, text: str, per_key: float) -> None:
    """Type ``text`` a key at a time, ``per_key`` seconds apart (the typing is what is tested)."""
    for char in text:
        repl.child.send(char)
        time.sleep(per_key)
    repl.answered_at = time.monotonic()  # type: ignore[attr-defined]  # what tests.test_tools_pty.answer pauses after


def the_question(kind: str, chat_env: dict[str, str], server, tmp_path, piped: bool) -> tuple[Repl, str, str]:
    """chat asking a question of ``kind``: the terminal, the question's words, and the marker a yes would make."""
    marker = tmp_path / "marker"
    if kind == "tool":
        server.queue(tool_calls(("shell", {"command": f"touch {marker}"})), Reply("done"))
        args, question, words = ["--tools", "shell"], QUESTION, "make a marker"
    elif kind == "mcp":
        write_servers(chat_env, {"asking": asking(tmp_path / "calls")})
        server.queue(tool_calls(("book", {"city": "Paris"})), Reply("done"))
        args, question, words = ["--yes"], FORM, "book a table in Paris"
    else:  # a LangGraph app's approval (LangChain's human-in-the-loop shape)
        server.queue(tool_calls(("book_table", {"restaurant": "Chez Y", "people": 2, "time": "19:00"})), Reply("done"))
        args, question, words = ["--graph", AGENT], QUESTION, "book a table"
    if piped:
        line = f"printf 'a\\n' | {shlex.quote(str(CHAT))} {' '.join(map(shlex.quote, args))} {shlex.quote(words)}"
        repl = Repl(["-c", line], chat_env, program="/bin/sh")
        repl.wait_until(lambda: question in repl.text and READY in repl.raw, "the question on the terminal")
        repl.prompts_seen = 1
        repl.asked_at = time.monotonic()  # type: ignore[attr-defined]
    else:
        repl = Repl(list(args), chat_env)
        repl.wait_prompt()
        at = repl.say(words)
        wait_asked(repl, question, at)
    return repl, question, str(marker)


@pytest.mark.parametrize("kind", ["tool", "mcp", "graph"])
def test_a_sentence_typed_at_the_question_answers_nothing_and_a_key_alone_then_does(server, chat_env, tmp_path, kind):
    """At the prompt, then asked by a one-shot whose stdin is a pipe (the question read from the terminal)."""
    for piped in (False, True):
        where = tmp_path / ("piped" if piped else "prompt")
        where.mkdir()
        repl, question, _marker = the_question(kind, chat_env, server, where, piped)
        try:
            at = repl.mark()
            for sentence, per_key in zip(SENTENCES, (0.15, 0.05)):
                type_slowly(repl, sentence + "\r", per_key)
            repl.wait_for(TYPING, after=at)
            after = answer(repl, "n")  # on its own, after the user read what the question said
            repl.wait_for(f"{question} no", after=at)
            shown = re.findall(re.escape(question) + r" (\w[\w ]*)", repl.text[at:])
            assert shown[:1] == ["no"], f"a sentence typed at the question answered it ({where.name}): {repl.text[at:]}"
            repl.wait_for("done", after=after, timeout=15)
            assert repl.text[at:].count(TYPING) <= 2, f"typing is said once a burst, not once a key ({where.name})"
        finally:
            repl.kill()
        assert not (where / "marker").exists(), f"the sentence approved the call ({where.name})"
        last = server.requests[-1]["messages"]
        if kind == "mcp":
            assert ran(where / "calls") == ["book"], where.name
            assert "decline" in str(last[-1]["content"]), where.name
        elif kind == "graph":
            assert "Booked a table" not in str(last), f"the graph's tool ran ({where.name})"
        else:
            assert "not run" in str(last[-1]["content"]), (where.name, last[-1])
