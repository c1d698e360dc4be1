"""Wide characters (CJK, emoji: two cells each) in the live areas: the thinking and the streamed answer
leave nothing behind on screen, because rows are counted in cells, as the terminal counts them."""

from __future__ import annotations

import itertools

import pytest
from rich.console import Console

from chatcli.ui.markdown.stream import MarkdownStream
from chatcli.ui.thinking import ROWS, ThinkingView
from tests.fakeserver import Raw, delta_chunk, sse
from tests.helpers import Captured, screen
from tests.test_thinking_pty import FOLDED, end_of_stream

# Chinese thinking (no spaces, as it comes) with emoji: every character takes two cells.
THOUGHT = "我们需要考虑这个问题的每一个方面🤔然后仔细推理得出结论✅" * 12
THINKING_CHARS = set(THOUGHT)
COLS = 40


def terminal(cols: int = COLS) -> tuple[Console, Captured]:
    out = Captured(tty=True)
    return Console(file=out, width=cols, height=30, force_terminal=True), out


def shown(out: Captured, cols: int = COLS) -> list[str]:
    """The screen for what was written (a terminal's newline also returns the cursor: ONLCR)."""
    return screen(out.getvalue().replace("\n", "\r\n"), cols)


def thinking_rows(lines: list[str]) -> list[str]:
    return [line for line in lines if THINKING_CHARS & set(line)]


def test_the_live_thinking_keeps_to_its_rows_and_folds_away_in_cells():
    console, out = terminal()
    ticks = itertools.count(0, 1.0)  # each piece comes late enough to be drawn
    view = ThinkingView(console, clock=lambda: next(ticks))
    most = 0
    for i in range(0, len(THOUGHT), 9):
        view.feed(THOUGHT[i : i + 9])
        lines = shown(out)
        most = max(most, len(thinking_rows(lines)))
    assert most == ROWS, f"{most} rows of thinking on screen at once"
    view.fold()
    lines = [line for line in shown(out) if line]
    assert thinking_rows(lines) == [], lines
    assert len(lines) == 1 and lines[0].startswith("thought for "), lines


def test_a_streamed_wide_answer_is_on_screen_once():
    answer = "天空是蓝色的，因为空气散射蓝光比红光更多😀" * 15
    console, out = terminal()
    stream = MarkdownStream(console, min_interval=0)
    for i in range(0, len(answer), 7):
        stream.feed(answer[i : i + 7])
    stream.finish()
    rows = [line for line in shown(out) if line]
    assert "".join(rows) == answer, rows  # every row once: no live row left behind, none lost
    assert all(len(row) <= COLS // 2 for row in rows), rows


@pytest.mark.e2e
def test_chinese_thinking_in_a_terminal_folds_to_one_line_and_leaves_no_rows(server, chat_env, start):
    from tests.helpers import COLS as WIDTH

    pieces = [THOUGHT[i : i + 12] for i in range(0, len(THOUGHT), 12)]
    parts: list[bytes | float] = [sse(delta_chunk({"role": "assistant", "content": ""}))]
    for piece in pieces:
        parts += [sse(delta_chunk({"reasoning_content": piece})), 0.03]
    answer = "The answer is forty-two."
    server.queue(Raw([*parts, 0.3, sse(delta_chunk({"content": answer})), *end_of_stream()]))
    repl = start("--thread", "wide")
    raw_at = len(repl.raw)
    repl.say("think it over")
    most = 0

    def answered() -> bool:
        nonlocal most
        lines = screen(repl.raw[raw_at:], WIDTH)
        most = max(most, len(thinking_rows(lines)))
        return answer in "\n".join(lines)

    repl.wait_until(answered, "the answer")
    repl.wait_prompt()
    lines = screen(repl.raw[raw_at:], WIDTH)
    assert thinking_rows(lines) == [], lines
    assert most <= ROWS, f"{most} rows of thinking on screen at once"
    folded = [i for i, line in enumerate(lines) if FOLDED.match(line)]
    assert len(folded) == 1 and lines[folded[0] + 1] == answer, lines
