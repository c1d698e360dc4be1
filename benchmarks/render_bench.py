"""CPU cost of streaming a ~20,000-token Markdown answer into a real pseudo-terminal.

Run: /work/venv/bin/python benchmarks/render_bench.py

Each mode writes to the slave side of os.openpty() while a reader thread drains the
master side (its CPU counts too: time.process_time covers all threads). Modes:
  raw          console.file.write(token); flush() per token - the baseline
  one-shot     console.print(rich.markdown.Markdown(whole answer)) once - for comparison: what
               laying the answer out with rich's Markdown elements costs
  stream@2k/s  MarkdownStream fed token by token, clock simulated at 2,000 tokens/s
               (so the 15/s throttle acts as in real use, without sleeping for 10 s)
  stream-burst MarkdownStream fed as fast as possible on the real clock
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.markdown import Markdown  # noqa: E402

from chatcli.ui.markdown.stream import MarkdownStream  # noqa: E402

TOKENS_PER_SECOND = 2000
WIDTH, HEIGHT = 100, 40


def make_answer(target_tokens: int = 20_000) -> str:
    """Build a realistic Markdown answer of about target_tokens word tokens."""
    paragraph = (
        "The renderer keeps a **stable prefix** that is printed once and a *live tail* that is "
        "redrawn; this keeps scrollback intact and the cost of a refresh proportional to the "
        "last block, which matters when an answer runs to [many pages](https://example.com)."
    )
    blocks: list[str] = []
    section = 0
    while len(tokenize("\n\n".join(blocks))) < target_tokens:
        # No line of prose or code repeats, so no renderer can get away with caching lines.
        items = "\n".join(f"- step {section}.{i}: check the `state_{section}_{i}` value and *log* it" for i in range(5))
        code = (
            "```python\n"
            + "\n".join(
                f"def handler_{section}_{i}(event: dict) -> str:\n    return f\"{{event['id']}}:{i}\"  # route {section}.{i}"
                for i in range(10)
            )
            + "\n```"
        )
        prose = paragraph.replace("The renderer", f"In part {section} the renderer")
        blocks += [
            f"## Section {section}",
            prose,
            items,
            prose.replace("part", "step"),
            code,
            f"> Note {section}: keep it short.",
        ]
        section += 1
    return "\n\n".join(blocks) + "\n"


def tokenize(text: str) -> list[str]:
    """Split text like a model streams it: words with their leading whitespace."""
    return re.findall(r"\s*\S+|\s+", text)


def run_in_pty(body) -> float:
    """Run body(console) writing to a pseudo-terminal and return the process CPU seconds used."""
    master, slave = os.openpty()

    def drain() -> None:
        while True:
            try:
                if not os.read(master, 65536):
                    return
            except OSError:
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out = open(slave, "w", encoding="utf-8")
    console = Console(file=out, force_terminal=True, width=WIDTH, height=HEIGHT, color_system="truecolor")
    start = time.process_time()
    body(console)
    out.flush()
    out.close()
    reader.join()
    used = time.process_time() - start
    os.close(master)
    return used


def raw(tokens: list[str]):
    """Return a body that writes each token raw and flushes."""

    def body(console: Console) -> None:
        for token in tokens:
            console.file.write(token)
            console.file.flush()

    return body


def one_shot(text: str):
    """Return a body that renders the whole answer once."""
    return lambda console: console.print(Markdown(text))


def streamed(tokens: list[str], simulated: bool):
    """Return a body that streams tokens through MarkdownStream."""

    def body(console: Console) -> None:
        index = 0
        clock = (lambda: index / TOKENS_PER_SECOND) if simulated else time.monotonic
        md = MarkdownStream(console, clock=clock)
        for index, token in enumerate(tokens):  # noqa: B007 - the clock reads index
            md.feed(token)
        md.finish()

    return body


def main() -> None:
    """Measure every mode three times and print the medians."""
    text = make_answer()
    tokens = tokenize(text)
    modes = {
        "raw": raw(tokens),
        "one-shot": one_shot(text),
        "stream@2k/s": streamed(tokens, simulated=True),
        "stream-burst": streamed(tokens, simulated=False),
    }
    medians = {name: statistics.median(run_in_pty(body) for _ in range(3)) for name, body in modes.items()}
    seconds = len(tokens) / TOKENS_PER_SECOND
    print(f"{len(tokens)} tokens, {len(text)} chars, {WIDTH}x{HEIGHT} pty, median of 3 runs")
    print(f"{'mode':<14}{'CPU s':>8}{'x raw':>8}{'x one-shot':>12}")
    for name, cpu in medians.items():
        print(f"{name:<14}{cpu:>8.3f}{cpu / medians['raw']:>8.1f}{cpu / medians['one-shot']:>12.2f}")
    load = medians["stream@2k/s"] / seconds
    print(f"at {TOKENS_PER_SECOND} tokens/s the stream lasts {seconds:.0f} s; renderer load {load:.0%} of one core")


if __name__ == "__main__":
    main()
