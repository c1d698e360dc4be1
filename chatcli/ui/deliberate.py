"""Which key pressed at a question is a deliberate answer, and which is part of something being typed.

A question that one key answers (``Run it? [y]es / [N]o ...``) may appear while the user is typing their next
message. Every letter of a sentence is some question's key: "my next question" holds a ``y`` right after an ``m``,
"each" starts with ``e`` then ``a``. So a key answers only when it stands alone: nothing was pressed in the
``gap`` before it, and nothing is pressed in the ``gap`` after it. People type the keys of a word 0.03 to 0.3 s
apart; a key pressed on its own, in answer to a question, has a pause on both sides.

- A key after another within the gap is typing: it answers nothing, and cancels the key before it that was waiting
  to stand alone (the ``y`` of "yes", the ``a`` of "a cat").
- A key after a pause waits ``gap`` seconds; if no key follows, it is the answer.
- Typing is said once a burst (the first key found to be typing), so a sentence makes one line, not one a key.
- Keys dropped as the question appeared (typed before it) count as the last key: the rest of the word in flight
  is still typing.

Ctrl-C and Ctrl-D are not judged here: they stop the question at once, whenever they come.

The judge is given the times; it keeps no clock of its own (the tests drive it with every word and sentence at
every typing speed, in no time at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Seconds of quiet on each side of a key for it to be an answer: above the slowest steady typing (0.3 s a key).
GAP = 0.5

# A timer set for the gap may fire this much early, and times add up with rounding: a gap this much short is one.
TIMER_SLACK = 0.001

Verdict = Literal["wait", "typing", "ignored"]


@dataclass
class Deliberate:
    """The keys of one question, judged as they come (see the module docstring)."""

    gap: float = GAP
    last: float | None = None  # when the last key was pressed (or typed keys were dropped)
    pending: tuple[str, float] | None = None  # the key waiting for the quiet after it, and when it came
    warned: bool = False  # this burst of typing has been said

    def dropped(self, at: float) -> None:
        """Keys typed before the question were dropped at ``at``: the user was typing then."""
        self.last = at
        self.pending = None

    def pressed(self, key: str, at: float) -> Verdict:
        """A key came at ``at``: "wait" (it may be the answer: ask ``settled`` after the gap), "typing" (the first
        key of a burst found to be typing: say so), "ignored" (more of a burst already said)."""
        quiet = self.last is None or at - self.last >= self.gap - TIMER_SLACK
        self.last = at
        if quiet:
            self.pending, self.warned = (key, at), False
            return "wait"
        return self._typing()

    def pasted(self, at: float) -> Verdict:
        """Text was pasted at ``at``: typing, whatever it holds (it may hold a y)."""
        if self.last is None or at - self.last >= self.gap - TIMER_SLACK:
            self.warned = False
        self.last = at
        return self._typing()

    def _typing(self) -> Verdict:
        self.pending = None
        if self.warned:
            return "ignored"
        self.warned = True
        return "typing"

    def settled(self, at: float) -> str | None:
        """The answer, if the key waiting has stood alone for the gap by ``at``; else None."""
        if self.pending is None:
            return None
        key, came = self.pending
        if self.last != came or at - came < self.gap - TIMER_SLACK:
            return None
        self.pending = None
        return key
