"""Only a deliberate key answers a question: typing never approves, edits or always-allows (chatcli.ui.deliberate).

The class, not the instance: the 1,000 most common English words (tests/fixtures/common_words.txt: wordfreq 3.1.1's
``top_n_list("en", 1000)``), each typed on (a space after it, as in a sentence), and every sentence of Python's own
documentation that fits a line (``pydoc_data.topics``: some 1,500, as any Python has them), and sentences a user of a
chat client types, each ending in Enter, typed at every speed people type: 0.03 to 0.3 s a key, steady and uneven.
No key of any of them is taken as an answer, whichever letter it is; a key pressed on its own still is. The judge is
given the times, so every case runs in no time; tests/test_approval_inprocess.py types at a person's real speed at
each kind of question, and tests/test_approval_keys_pty.py in a real terminal.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from chatcli.ui.deliberate import GAP, Deliberate


def answers(keys: list[tuple[str, float]], gap: float = GAP, dropped: float | None = None) -> list[str]:
    """The answers a judge takes from ``keys`` (each a key and the time it was pressed), the quiet after the last
    one included: what a question would have been answered with, for the tests and for reasoning about typing."""
    judge = Deliberate(gap)
    if dropped is not None:
        judge.dropped(dropped)
    taken: list[str] = []
    for key, at in keys:
        settled = judge.settled(at)  # the waiting key's time ran out before this one came
        if settled is not None:
            taken.append(settled)
        judge.pressed(key, at)
    if keys and judge.pending is not None:
        settled = judge.settled(judge.pending[1] + gap)
        if settled is not None:
            taken.append(settled)
    return taken


WORDS = (Path(__file__).parent / "fixtures" / "common_words.txt").read_text().split()
# Messages a user of a chat client types, starting with each key some question takes (y, n, a, e, r, v, q, t, o).
CHAT_LINES = [
    "yes please go on",
    "y not",
    "no, the other file",
    "always check the tests first",
    "a quick question about the build",
    "each of these should be a test",
    "edit the README instead",
    "run it again with -v",
    "rename it to foo",
    "view the diff",
    "quit trying that",
    "quickly: what time is it in Tokyo?",
    "thanks, that worked",
    "try again",
    "ok",
    "open the log",
    "my next question",
    "why did it fail?",
    "I see",
]
SPEEDS = [0.03, 0.08, 0.15, 0.22, 0.3]
ENTER = ""  # the judge's name for Enter


def sentences() -> list[str]:
    """Every sentence of Python's documentation that is one plain line of typing."""
    from pydoc_data.topics import topics

    text = " ".join(topics.values())
    found = [" ".join(s.split()) for s in re.split(r"(?<=[.!?])\s+", text)]
    return list(dict.fromkeys(s for s in found if 20 <= len(s) <= 160 and s.isascii() and s[0].isalpha()))


def typed(text: str, speed: float | None, rng: random.Random, start: float = 0.0) -> list[tuple[str, float]]:
    """``text`` as keys with the times they are pressed: ``speed`` seconds apart, or (None) each gap anywhere
    from 0.03 to 0.3 s, as an uneven typist's."""
    keys, at = [], start
    for char in text:
        keys.append((ENTER if char == "\n" else char.lower(), at))
        at += speed if speed is not None else rng.uniform(0.03, 0.3)
    return keys


def test_there_are_a_thousand_words_and_hundreds_of_sentences():
    assert len(WORDS) == 1000 and "yes" in WORDS and "a" in WORDS and "each" in WORDS
    assert len(sentences()) >= 300


@pytest.mark.parametrize("speed", [*SPEEDS, None], ids=[*map(str, SPEEDS), "uneven"])
def test_no_common_word_typed_on_answers_anything(speed):
    rng = random.Random(60)
    for word in WORDS:
        keys = typed(word + " ", speed, rng)
        assert answers(keys) == [], f"{word!r} typed at {speed} s a key answered the question"


@pytest.mark.parametrize("speed", [*SPEEDS, None], ids=[*map(str, SPEEDS), "uneven"])
def test_no_sentence_typed_answers_anything(speed):
    rng = random.Random(60)
    for line in [*CHAT_LINES, *sentences()]:
        keys = typed(line + "\n", speed, rng)
        assert answers(keys) == [], f"{line!r} typed at {speed} s a key answered the question"


@pytest.mark.parametrize("speed", [*SPEEDS, None], ids=[*map(str, SPEEDS), "uneven"])
def test_a_sentence_typed_on_into_the_question_from_before_it_answers_nothing(speed):
    """The question appears mid-sentence: what came before was dropped; the rest, even one last letter, is typing."""
    rng = random.Random(60)
    for line in CHAT_LINES + sentences()[:300]:
        for cut in (len(line) - 1, len(line) // 2, 1):
            keys = typed(line[cut:], speed, rng, start=0.03)
            assert answers(keys, dropped=0.0) == [], f"the end of {line!r} ({line[cut:]!r}) answered the question"


@pytest.mark.parametrize("key", ["y", "n", "a", "e", "r", "v", "q", "t", "o", ENTER])
def test_a_key_pressed_on_its_own_answers(key):
    assert answers([(key, 0.0)]) == [key]
    assert answers([("y", 0.0), ("e", 0.1), ("s", 0.2), (key, 0.2 + GAP)]) == [key], "after typing, then a pause"
    assert answers([(key, 0.4)], dropped=0.0) == [], "the rest of what was typed as the question appeared"
    assert answers([(key, GAP + 0.01)], dropped=0.0) == [key], "after the typing stopped"


def test_typing_is_said_once_a_burst():
    judge = Deliberate()
    verdicts = [judge.pressed(key, at) for key, at in typed("my next question\n", 0.15, random.Random(1))]
    assert verdicts[0] == "wait" and verdicts[1] == "typing" and set(verdicts[2:]) == {"ignored"}
    assert judge.settled(100.0) is None
    assert judge.pressed("y", 100.0) == "wait" and judge.settled(100.0 + GAP) == "y"
    assert judge.pasted(200.0) == "typing" and judge.pasted(200.1) == "ignored"
