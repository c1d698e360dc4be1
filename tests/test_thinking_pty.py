"""A reasoning model's thinking in a real terminal, as a user meets it: live in a few dim rows
redrawn in place, folded to one line when the answer starts, ``<think>`` tags cut across chunks,
``/think`` (the last thinking in full), ``/think on`` and ``/think off``, Ctrl-C while the model
thinks, and a one-shot question in a terminal and in a pipe. Each test checks the screen, what
the thread keeps, and that the thinking is never sent back to the model."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest

from tests.fakeserver import Raw, delta_chunk, protocol_error, sse
from tests.helpers import HANG, Captured, Repl, chat, screen, stored, summary
from tests.test_reliability import db_of

pseudo_terminal = pytest.mark.e2e  # chat in a pseudo-terminal

CTRL_C = "\x03"
FOLDED = re.compile(r"^thought for \d+ s · /think shows it$")
# After a one-shot there is no /think: the line names the command that shows it there.
FOLDED_ONE_SHOT = re.compile(r"^thought for \d+ s · chat show --thinking shows it$")
FULL_END = re.compile(r"^\(thought for \d+ s\)$")
STOPPED = "stopped: the partial answer is kept in the thread"
LIVE_ROWS = 5  # the live area's height (chatcli.ui.thinking.ROWS)


# --------------------------------------------------------------------------- helpers


def words(prefix: str, n: int) -> list[str]:
    """``n`` words no other text on screen contains: "ka000", "ka001", ..."""
    return [f"{prefix}{i:03d}" for i in range(n)]


def chunks_of(items: list[str], size: int) -> list[str]:
    """The words in streamed pieces of ``size`` words, each ending with a space."""
    return [" ".join(items[i : i + size]) + " " for i in range(0, len(items), size)]


def end_of_stream() -> list[bytes | float]:
    return [sse(delta_chunk({}, finish_reason="stop")), b"data: [DONE]\n\n"]


def thinking_reply(
    thinking: list[str], answer: str, *, pause: float = 0.1, before_answer: float = 0.3, key: str = "reasoning_content"
) -> Raw:
    """A streamed reply: the thinking in ``delta[key]`` pieces ``pause`` s apart, then the answer."""
    parts: list[bytes | float] = [sse(delta_chunk({"role": "assistant", "content": ""}))]
    for piece in thinking:
        parts += [sse(delta_chunk({key: piece})), pause]
    parts += [before_answer, sse(delta_chunk({"content": answer})), *end_of_stream()]
    return Raw(parts)


def content_reply(pieces: list[str | float]) -> Raw:
    """A streamed reply whose content comes in exactly these pieces (floats: pauses)."""
    parts: list[bytes | float] = [sse(delta_chunk({"role": "assistant", "content": ""}))]
    for piece in pieces:
        parts.append(piece if isinstance(piece, float) else sse(delta_chunk({"content": piece})))
    return Raw(parts + end_of_stream())


@pytest.fixture
def pty(chat_env: dict[str, str]) -> Iterator[Any]:
    """Start ``chat`` in a pseudo-terminal without waiting for the "> " prompt; killed at the end."""
    started: list[Repl] = []

    def _start(*args: str, env: dict[str, str] | None = None) -> Repl:
        repl = Repl(list(args), env or chat_env)
        started.append(repl)
        return repl

    yield _start
    for repl in started:
        repl.kill()


def at_a_terminal(env: dict[str, str], *args: str) -> tuple[Any, str]:
    """A one-shot in this process whose stdout and stderr are one terminal 100 columns wide: its run, and every
    byte it wrote there, in order."""
    terminal = Captured(tty=True)
    run = chat({**env, "COLUMNS": "100", "LINES": "40"}, *args, tty=True, out=terminal, err=terminal)
    return run, terminal.getvalue().replace("\n", "\r\n")  # a terminal's line ends, as screen() reads them


def rows_with(lines: list[str], prefix: str) -> list[str]:
    """The lines that hold a word of the thinking (words made by ``words(prefix, ...)``)."""
    pattern = re.compile(rf"\b{prefix}\d{{3}}\b")
    return [line for line in lines if pattern.search(line)]


class Watch:
    """Looks at the screen after each read while a reply streams: the most thinking rows ever on it."""

    def __init__(self, repl: Repl, prefix: str):
        self.repl = repl
        self.prefix = prefix
        self.raw_at = len(repl.raw)
        self.most = 0
        self.lines: list[str] = []

    def look(self) -> list[str]:
        self.lines = screen(self.repl.raw[self.raw_at :])
        self.most = max(self.most, len(rows_with(self.lines, self.prefix)))
        return self.lines

    def until(self, done: Any, what: str, timeout: float = 15) -> None:
        self.repl.wait_until(lambda: done(self.look()), what, timeout)


def sent_text(body: dict) -> str:
    return json.dumps(body["messages"], ensure_ascii=False)


def assert_valid(server: Any) -> None:
    for number, body in enumerate(server.requests):
        assert protocol_error(body["messages"]) is None, (number, body["messages"])


# --------------------------------------------------------------------------- live, then folded


@pseudo_terminal
def test_thinking_shows_live_in_five_rows_then_folds_to_one_line(server, chat_env, start):
    thought = words("ka", 120)  # about eight rows of a 100-column terminal
    answer = "The answer is forty-two."
    server.queue(thinking_reply(chunks_of(thought, 8), answer, pause=0.12, before_answer=0.6))
    repl = start("--thread", "live")
    repl.say("what is the answer?")
    watch = Watch(repl, "ka")

    # While it thinks: the latest words, in a bounded area (the first words have scrolled out of it).
    watch.until(lambda lines: any("ka059" in line for line in lines), "the thinking half way")
    watch.until(lambda lines: any("ka119" in line for line in lines), "the last words of the thinking")
    live = rows_with(watch.lines, "ka")
    assert answer not in "\n".join(watch.lines), watch.lines  # still thinking
    assert len(live) == LIVE_ROWS and "ka000" not in "\n".join(live), watch.lines
    assert live[-1].endswith("ka119"), live

    # The answer: the thinking rows give way to one folded line, then the answer.
    watch.until(lambda lines: answer in "\n".join(lines), "the answer")
    repl.wait_prompt()
    lines = watch.look()
    assert watch.most <= LIVE_ROWS, f"{watch.most} rows of thinking on screen at once"
    assert rows_with(lines, "ka") == [], lines
    folded = [i for i, line in enumerate(lines) if FOLDED.match(line)]
    assert len(folded) == 1, lines
    assert lines[folded[0] + 1] == answer, lines
    assert "ka0" not in repl.text.split(answer, 1)[1]  # nothing of the thinking after the answer

    kept = stored(db_of(chat_env), "live")
    assert kept[-1].type == "ai" and kept[-1].content == answer
    assert kept[-1].additional_kwargs["reasoning_content"].split() == thought

    # The next request carries the answer but not the thinking.
    at = repl.say("and then?")
    repl.wait_for("You said: and then?", after=at)
    repl.wait_prompt()
    assert len(server.requests) == 2
    messages = server.requests[1]["messages"]
    assert [m["role"] for m in messages if m["role"] != "system"] == ["user", "assistant", "user"]
    (assistant,) = [m for m in messages if m["role"] == "assistant"]
    assert assistant["content"] == answer, assistant
    assert "ka0" not in sent_text(server.requests[1]), assistant


@pseudo_terminal
def test_the_last_words_before_a_pause_are_on_screen(server, chat_env, start):
    """Words that came in just after a redraw still show while the model pauses (no stale rows)."""
    thought = words("pa", 12)
    parts: list[bytes | float] = [sse(delta_chunk({"role": "assistant", "content": ""}))]
    for first, second in zip(thought[0::2], thought[1::2]):  # pairs a few ms apart, 0.2 s between pairs
        parts += [
            sse(delta_chunk({"reasoning_content": first + " "})),
            0.005,
            sse(delta_chunk({"reasoning_content": second + " "})),
            0.2,
        ]
    parts += [1.5, sse(delta_chunk({"content": "Done thinking."})), *end_of_stream()]
    server.queue(Raw(parts))
    repl = start("--thread", "pause")
    repl.say("think about it")
    watch = Watch(repl, "pa")
    watch.until(lambda lines: any("pa010" in line for line in lines), "the thinking near its end")
    # Until the last word is drawn or the pause is over (the answer comes 1.7 s after it), whichever is first.
    watch.until(
        lambda lines: any(line.endswith("pa011") for line in rows_with(lines, "pa")) or "Done thinking." in repl.text,
        "the last word of the thinking, or the answer",
    )
    lines = watch.lines
    assert "Done thinking." not in "\n".join(lines), "the last words were not shown before the answer came"
    live = rows_with(lines, "pa")
    assert live and live[-1].endswith("pa011"), f"the screen shows stale thinking during a pause: {live}"
    repl.wait_for("Done thinking.")
    repl.wait_prompt()


# --------------------------------------------------------------------------- <think> tags


@pseudo_terminal
def test_think_tags_cut_across_chunks_never_show_and_are_kept_apart(server, chat_env, start):
    server.queue(
        content_reply(
            ["<th", 0.1, "ink>secret plan alpha", 0.1, " beta gamma</thi", 0.1, "nk>Final answer here", " and more."]
        )
    )
    repl = start("--thread", "tags")
    at = repl.say("plan it")
    watch = Watch(repl, "zz")
    repl.wait_for("Final answer here and more.", after=at)
    repl.wait_prompt()
    shown = repl.text[at:]
    # No piece of a tag ever reached the terminal, not even in the live area.
    assert "<th" not in shown and "ink>" not in shown and "</" not in shown and "nk>" not in shown, shown
    lines = watch.look()
    assert not any(word in line for line in lines for word in ("secret", "alpha", "beta", "gamma")), lines
    folded = [i for i, line in enumerate(lines) if FOLDED.match(line)]
    assert len(folded) == 1 and lines[folded[0] + 1] == "Final answer here and more.", lines

    kept = stored(db_of(chat_env), "tags")
    assert kept[-1].type == "ai"
    assert kept[-1].content == "Final answer here and more."
    assert kept[-1].additional_kwargs["reasoning_content"] == "secret plan alpha beta gamma"

    at = repl.say("next")
    repl.wait_for("You said: next", after=at)
    repl.wait_prompt()
    (assistant,) = [m for m in server.requests[1]["messages"] if m["role"] == "assistant"]
    assert assistant["content"] == "Final answer here and more."
    assert "secret" not in sent_text(server.requests[1]) and "think>" not in sent_text(server.requests[1])


# --------------------------------------------------------------------------- /think, /think on, /think off


@pseudo_terminal
def test_think_prints_the_last_thinking_and_on_off_switch_full_display(server, chat_env, start):
    first = words("fa", 120)
    second = words("sa", 60)
    third = words("ta", 60)
    server.queue(
        thinking_reply(chunks_of(first, 20), "First answer.", pause=0.05, key="reasoning"),
        thinking_reply(chunks_of(second, 10), "Second answer.", pause=0.05),
        thinking_reply(chunks_of(third, 10), "Third answer.", pause=0.05, before_answer=0.3),
    )
    repl = start("--thread", "think")
    at = repl.say("first question")
    repl.wait_for("First answer.", after=at)
    repl.wait_prompt()

    # /think: the last thinking in full, every word of it.
    raw_at = len(repl.raw)
    at = repl.say("/think")
    repl.wait_for("fa119", after=at)
    repl.wait_prompt()
    shown = " ".join(screen(repl.raw[raw_at:]))
    assert all(word in shown for word in first), shown
    assert "First answer." not in shown

    # /think on: the next thinking is printed whole as it comes, then "(thought for N s)", then the answer.
    at = repl.say("/think on")
    repl.wait_prompt()
    assert "thinking shown in full" in repl.text[at:]
    raw_at = len(repl.raw)
    at = repl.say("second question")
    repl.wait_for("Second answer.", after=at)
    repl.wait_prompt()
    lines = screen(repl.raw[raw_at:])
    shown = " ".join(lines)
    assert all(word in shown for word in second), lines
    assert not any(FOLDED.match(line) for line in lines), lines
    ends = [i for i, line in enumerate(lines) if FULL_END.match(line)]
    assert len(ends) == 1, lines
    last_thinking = max(i for i, line in enumerate(lines) if "sa059" in line)
    assert last_thinking < ends[0] and lines[ends[0] + 1] == "Second answer.", lines

    # /think off: folded again.
    at = repl.say("/think off")
    repl.wait_prompt()
    assert "folded" in repl.text[at:]
    raw_at = len(repl.raw)
    at = repl.say("third question")
    repl.wait_for("Third answer.", after=at)
    repl.wait_prompt()
    lines = screen(repl.raw[raw_at:])
    assert rows_with(lines, "ta") == [], lines
    folded = [i for i, line in enumerate(lines) if FOLDED.match(line)]
    assert len(folded) == 1 and lines[folded[0] + 1] == "Third answer.", lines

    # None of the three thinkings went back to the model.
    for body in server.requests:
        assert not re.search(r"\b[fst]a\d{3}\b", sent_text(body)), body["messages"]


def test_show_thinking_setting_prints_it_in_full(server, chat_env):
    thought = words("sh", 40)
    server.queue(thinking_reply(chunks_of(thought, 10), "Shown answer.", pause=0.05))
    run, raw = at_a_terminal({**chat_env, "CHATCLI_SHOW_THINKING": "1"}, "--thread", "full", "tell me")
    assert run.code == 0, run
    lines = screen(raw)
    assert all(word in " ".join(lines) for word in thought), lines
    ends = [i for i, line in enumerate(lines) if FULL_END.match(line)]
    assert len(ends) == 1 and lines[ends[0] + 1] == "Shown answer.", lines


# --------------------------------------------------------------------------- Ctrl-C while it thinks


@pseudo_terminal
def test_ctrl_c_while_thinking_stops_and_keeps_the_thinking(server, chat_env, start):
    thought = words("cc", 30)
    parts: list[bytes | float] = [sse(delta_chunk({"role": "assistant", "content": ""}))]
    for piece in chunks_of(thought, 5):
        parts += [sse(delta_chunk({"reasoning_content": piece})), 0.05]
    parts += [
        HANG,  # what comes after, shown, would be a stop that waited for the stream
        sse(delta_chunk({"reasoning_content": "never seen "})),
        sse(delta_chunk({"content": "never said"})),
        *end_of_stream(),
    ]
    server.queue(Raw(parts))
    repl = start("--thread", "stop")
    at = repl.say("think hard")
    raw_at = len(repl.raw)
    watch = Watch(repl, "cc")
    watch.until(lambda lines: any("cc029" in line for line in lines), "the thinking so far")
    repl.child.send(CTRL_C)
    repl.wait_prompt()
    assert repl.child.isalive()
    shown = repl.text[at:]
    assert STOPPED in shown and "never" not in shown, shown
    lines = screen(repl.raw[raw_at:])
    assert rows_with(lines, "cc") == [], lines  # the live rows do not stay behind
    assert watch.most <= LIVE_ROWS

    kept = stored(db_of(chat_env), "stop")
    assert [m.type for m in kept] == ["human", "ai"], summary(kept)
    assert kept[-1].content == ""
    assert kept[-1].response_metadata["interrupted"] == "cancelled"
    assert kept[-1].additional_kwargs["reasoning_content"].split() == thought

    # /think shows the thinking kept; the next question goes out without it.
    at = repl.say("/think")
    repl.wait_for("cc029", after=at)
    repl.wait_prompt()
    at = repl.say("go on")
    repl.wait_for("You said: go on", after=at)
    repl.wait_prompt()
    assert "error" not in repl.text[at:], repl.text[at:]
    assert len(server.requests) == 2
    assert_valid(server)
    assert "cc0" not in sent_text(server.requests[1]), server.requests[1]["messages"]


# --------------------------------------------------------------------------- one-shot: terminal and pipe


def test_one_shot_in_a_terminal_folds_and_in_a_pipe_prints_only_the_answer(server, chat_env):
    thought = words("os", 40)
    answer = "Paris is the capital."
    server.queue(thinking_reply(chunks_of(thought, 8), answer, pause=0.05))
    run, raw = at_a_terminal(chat_env, "--thread", "tty", "capital of France?")
    assert run.code == 0, run
    lines = screen(raw)
    assert rows_with(lines, "os") == [], lines
    folded = [i for i, line in enumerate(lines) if FOLDED_ONE_SHOT.match(line)]
    assert len(folded) == 1 and lines[folded[0] + 1] == answer, lines
    shown = chat(chat_env, "show", "--thinking")  # the command the line names, as typed next
    assert shown.code == 0 and all(word in shown.out for word in thought), shown

    server.queue(thinking_reply(chunks_of(thought, 8), answer, pause=0.01))
    run = chat(chat_env, "--thread", "pipe", "capital of France?")
    assert run.code == 0, run
    assert run.out == answer + "\n", run
    assert "os0" not in run.out and "thought for" not in run.out, run
    kept = stored(db_of(chat_env), "pipe")
    assert kept[-1].content == answer and kept[-1].additional_kwargs["reasoning_content"].split() == thought
