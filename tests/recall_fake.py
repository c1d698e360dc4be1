"""A deterministic model for the recall benchmark (benchmarks/recall_bench.py), as the fake server's reply function.

``RecallFake(thread).reply`` answers the two kinds of request the benchmark makes, told apart by their system prompt:

- the summariser's (its system prompt starts "You keep a running summary"): the current summary, then one line for
  each planted sentence it finds in the new part of the transcript, after the "[turn N, DATE]" line of the question
  it came in, in the order they come; the sentences in ``drop`` are left out, as a summary that loses a fact would;
- a question of the thread, or of a new thread (``thread.cross``): when every planted sentence its probe needs is
  somewhere in the request (the system message, where chat's graph puts the memories; the summary, the messages kept
  whole, the recent turns), the probe's right answer; otherwise "I don't know", as a model that invents nothing
  would. Abstention probes need what was never said: the answer is always "I don't know".

So the score it gets is the share of the probes whose evidence reached the request: all of them with the whole
thread sent, and with a faithful summary; one fewer for each fact a lossy summary dropped; in a new thread, all of
them when the memories are sent and none when they are not.
"""

from __future__ import annotations

import re
from typing import Any, Collection, Protocol, Sequence

SUMMARISER = "You keep a running summary"
NEW_PART = "\n\nNew part of the conversation:\n"
NONE_YET = "(none yet)"
DONT_KNOW = "I don't know: you have not told me that."
_HEADER = re.compile(r"^\[turn \d+(?:, [^\]]*)?\]$")


class Probe(Protocol):
    question: str
    evidence: tuple[str, ...]
    answer: str


class Thread(Protocol):
    facts: list[str]
    probes: list[Any]
    cross: list[Any]  # the probes asked in new threads (what was remembered, what never was)


def text_of(content: Any) -> str:
    """A message's content as text (a string, or parts of which the text ones count)."""
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content or "")


class RecallFake:
    """The fake model of a generated thread (see the module)."""

    def __init__(self, thread: Thread, drop: Collection[str] = ()):
        self.facts = [fact for fact in thread.facts if fact not in set(drop)]
        self.probes: dict[str, Probe] = {probe.question: probe for probe in [*thread.probes, *thread.cross]}
        self.summaries = 0  # summariser calls answered
        self.questions = 0  # probes answered

    def reply(self, messages: Sequence[dict]) -> str:
        """The reply to one chat request (``messages`` as the OpenAI API has them)."""
        texts = [text_of(message.get("content")) for message in messages]
        if texts and texts[0].startswith(SUMMARISER):
            return self.summarise(texts[-1])
        return self.answer(texts)

    def summarise(self, prompt: str) -> str:
        """The current summary with the planted sentences of the new part added, each after its turn's line."""
        self.summaries += 1
        current, _, new = prompt.partition(NEW_PART)
        current = current.removeprefix("Current summary:\n")
        kept = [] if current.strip() == NONE_YET else current.splitlines()
        when = ""
        for line in new.splitlines():
            if _HEADER.match(line):
                when = line
                continue
            kept += [f"{when} {fact}".strip() for fact in self.facts if fact in line]
        return "\n".join(kept) or "Nothing worth keeping was said."

    def answer(self, texts: list[str]) -> str:
        """The probe's answer when the request (the system message included) holds all its evidence, else "I don't
        know"."""
        probe = self.probes.get(texts[-1]) if texts else None
        if probe is None:
            return "Noted."
        self.questions += 1
        context = "\n".join(texts[:-1])
        if probe.evidence and all(sentence in context for sentence in probe.evidence):
            return probe.answer
        return DONT_KNOW
