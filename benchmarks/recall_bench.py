"""Recall after compaction: what a model still answers about a long thread once its earlier turns are a summary.

A seeded generator writes a long thread (``--turns`` turns of work talk and chit-chat, in sessions days apart, each
session opened by a greeting that says the date) with facts planted in it, in the five categories LongMemEval asks
about: ``single`` (a fact said once), ``updated`` (a fact said, then changed: the latest value is right),
``multi_session`` (two facts from different sessions, combined: a sum, or both named), ``temporal`` (which of two
things was said first, or on which day something was said) and ``abstention`` (something never said, often next to
something that was: the right answer says it is not known and invents no value). The thread is written straight
into the store (canned answers, timestamps on every message), so building it asks no model.

Then each question is asked twice, each time in a thread of its own kind and taken back with ``undo`` afterwards
(questions never see each other): ``full``, the whole thread sent (memory "trim" with a history budget it fits in:
the report says if the model's window still left turns out), and ``compacted``, after ``OwnPrompt.compact()``
folded every turn but the last into a summary (the summary, the first question, the last turn and the question are
sent). A reply is checked by keywords (the value, or one of the ways of writing a date; for abstention an "I don't
know"-style phrase and no invented value), not by a model. The report gives the share right per category and overall
for both modes, and what the summary kept, through benchmarks/report.py into benchmarks/results-recall.md, with each
question's replies below the table.

Then memory across threads: ``cross_thread`` facts (a library card number, a cousin's name...) are never said in the
long thread; they are remembered, as ``/remember`` keeps them (``memories().add(text, "prompt")`` in a thread of
their own, in the benchmark's database), and each question about them is asked in a new thread, which knows them only
from the memories chat's graph sends at the end of the system message. The same questions asked in a new thread with
memories off (``memories = false``) are the control: there they cannot be answered. ``cross_abstention`` asks, in
both, about something never remembered (the right answer says it is not known). The report gives the share right
with memories on and off.

    .venv/bin/python benchmarks/recall_bench.py --local                 # chat's local model (SmolLM2-135M)
    .venv/bin/python benchmarks/recall_bench.py -m ollama:qwen3         # any model chat can reach, with its key
    .venv/bin/python benchmarks/recall_bench.py -m anthropic:claude-sonnet-4-5 --turns 120
    .venv/bin/python benchmarks/recall_bench.py --fake                  # the deterministic fake (tests/recall_fake.py)

Options: ``--turns N`` (default 60), ``--seed N`` (default 1), ``--budget TOKENS`` (the history budget the
compaction works with; default: the full mode's, which fits the whole thread), ``--local-n-ctx`` (the local model's
window, default 8192), ``--temperature T`` (default: the model's own), ``--out PATH``. The database is a temporary
one: the user's threads are never touched. About 70 s with the local model on 2 cores, a few seconds with the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from report import report  # noqa: E402  (benchmarks/report.py)

from tests.helpers import a_thread as thread_of  # noqa: E402  (a thread as every door gets it)

if TYPE_CHECKING:  # the engine is imported when a run starts
    from chatcli.config import Settings
    from chatcli.core.events import Compacted
    from chatcli.service.thread import Thread

CATEGORIES = ("single", "updated", "multi_session", "temporal", "abstention")
CROSS = ("cross_thread", "cross_abstention")  # asked in new threads: what was remembered, what never was
ABSTAINING = ("abstention", "cross_abstention")  # right when the reply says it is not known
ASK = " Answer in one sentence."  # every question ends so: short replies, checked by keywords
MARGIN = 1500  # tokens over the thread's estimate for the full mode's budget: system prompt, question, answer

# ---------------------------------------------------------------------------------------------- the thread's text

FILLER = [
    (
        "Can you suggest a good name for a small internal tool that tidies up log files?",
        "How about 'Sweep'? It is short, says what it does, and reads well on a command line.",
    ),
    (
        "What's a polite way to decline a meeting that has no agenda?",
        "Something like: 'Happy to help, could you share an agenda first so I can prepare or see whether I'm needed?'",
    ),
    (
        "Any tips for staying focused in the afternoon?",
        "Take a short walk after lunch, keep one clear task on the list, and batch messages into two or three checks.",
    ),
    (
        "How do I explain technical debt to someone in sales?",
        "Compare it to skipping maintenance on a delivery van: it runs today, but every trip gets slower and riskier.",
    ),
    (
        "What should I cook tonight with leftover rice and some vegetables?",
        "Fried rice is the classic: hot pan, vegetables first, then the rice, an egg, soy sauce and a little sesame oil.",
    ),
    (
        "Is it worth writing tests for a quick prototype?",
        "A few, around the parts you are unsure of. They pay off the moment the prototype quietly becomes the product.",
    ),
    (
        "Can you rephrase 'per my last email' so it sounds friendlier?",
        "Try: 'Just bringing this back to the top of your inbox, in case it got buried.'",
    ),
    (
        "What's a good stretch after sitting all day?",
        "A doorway chest stretch and a slow hip flexor lunge, each held for half a minute, undo most of a desk day.",
    ),
    (
        "How should I structure a short project update?",
        "Three parts: what changed since last time, what is blocked and by whom, and what happens next.",
    ),
    (
        "Any podcast recommendations for a long drive?",
        "Narrative history shows work well on the road: one long story you can follow without looking at anything.",
    ),
    (
        "Should I use tabs or spaces?",
        "Whatever the project's formatter says. The best indentation is the one nobody has to argue about.",
    ),
    (
        "How do I keep a code review kind but honest?",
        "Comment on the code, not the person, ask questions where you are unsure, and say what you liked too.",
    ),
    (
        "The coffee machine at the office broke again.",
        "That is a rough start. Maybe a good moment to try the tea, or to walk to the café and clear your head.",
    ),
    (
        "What's a nice way to start a retrospective?",
        "Ask everyone for one word that describes the last sprint; it warms the room up and shows the mood fast.",
    ),
    (
        "How do I write a good commit message?",
        "A short summary line in the imperative, a blank line, then why the change was needed, not what the diff shows.",
    ),
    (
        "It's raining all day here.",
        "Good weather for deep work, or for a long walk in a proper coat if you need to think something through.",
    ),
    (
        "What's the difference between a process and a thread?",
        "A process has its own memory; threads share their process's memory, cheaper but easier to get wrong.",
    ),
    (
        "How can I make a slide deck less boring?",
        "One idea per slide, more pictures than bullet points, and a story that starts with the problem.",
    ),
    (
        "Any ideas for a team lunch spot that suits everyone?",
        "A food hall keeps vegetarians, picky eaters and the adventurous happy at once.",
    ),
    (
        "I keep forgetting to drink water during the day.",
        "Keep a full bottle on the desk and refill it every time you stand up; seeing it is most of the trick.",
    ),
    (
        "What's a good way to say no to extra work?",
        "Name what you would have to drop to take it on, and ask which matters more: a refusal becomes a choice.",
    ),
    (
        "Should I learn Rust or Go next?",
        "Go if you want to ship services quickly, Rust if you want to understand memory and enjoy a strict compiler.",
    ),
    (
        "My neighbour started renovating his kitchen.",
        "Noise-cancelling headphones and a few hours at a library might save your focus for a while.",
    ),
    (
        "How do I name a branch for a bug fix?",
        "Something like fix/short-description, matching the ticket if your team uses one.",
    ),
    (
        "What's a quick healthy breakfast?",
        "Oats with yoghurt and fruit, or eggs on toast; both take minutes and keep you going until lunch.",
    ),
    (
        "How can I sleep better?",
        "Keep the same wake-up time every day, dim the screens in the evening, and keep the bedroom cool and dark.",
    ),
    (
        "Any advice for giving a conference talk for the first time?",
        "Rehearse out loud several times, know your first two sentences by heart, and leave time for questions.",
    ),
    (
        "What's a good way to organise my notes?",
        "One inbox for everything, and a weekly pass to file or delete; the habit matters more than the system.",
    ),
    (
        "Can you explain what a race condition is?",
        "The result depends on the timing of two things running at once, so it works on your machine and fails later.",
    ),
    (
        "The train was late again this morning.",
        "Annoying. A podcast or an audiobook at least turns the wait into something useful.",
    ),
    (
        "How do I ask for feedback on my work?",
        "Ask a specific question, like 'what would you change in the second section?', rather than 'any thoughts?'",
    ),
]
GREETINGS = ["Good morning! It's {day}.", "Morning. {day} already, the weeks fly.", "Hi again, back at it on {day}."]
LEADS = ["Quick note for later:", "By the way,", "Oh, before I forget:", "For the record,", "Something to remember:"]
ACKS = ["Noted.", "Got it, I'll keep that in mind.", "Thanks, noted.", "Understood."]
SISTERS = ["Marta", "Priya", "Ingrid", "Aiko", "Lena", "Noor"]
NAMES = [*SISTERS, "Jonas", "Tomás", "Kofi", "Dmitri", "Rafael", "Elliot"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
# Afternoon times: a session's messages are stamped in the morning, so a summary's "[turn N, DATE TIME]" lines never
# hold one of them.
TIMES = ["13:30", "14:00", "14:15", "14:45", "15:30", "16:00"]
# Things done, for "which first": what the thread says, how a question names it, the word a reply must use.
EVENTS = [
    ("I signed up for a pottery class", "the pottery class", "pottery"),
    ("I booked a trip to Lisbon", "the trip to Lisbon", "Lisbon"),
    ("I started learning Spanish", "learning Spanish", "Spanish"),
    ("I joined a climbing gym", "the climbing gym", "climbing"),
    ("I adopted a cat from the shelter", "the cat", "cat"),
    ("I bought a second-hand kayak", "the kayak", "kayak"),
]
# Things done on a day: what the thread says, how a question names it, the word a summary must keep.
DAY_EVENTS = [
    ("the boiler was serviced today", "the boiler was serviced", "boiler"),
    ("I renewed my passport today", "I renewed my passport", "passport"),
    ("we shipped the new search feature today", "we shipped the search feature", "search"),
    ("I handed in my tax return today", "I handed in my tax return", "tax"),
]
BOOKS = ["Dune", "Piranesi", "Middlemarch", "Stoner", "Kindred", "Beloved"]
PLANTS = [("a lemon tree", "lemon"), ("a pot of basil", "basil"), ("a small olive tree", "olive"), ("a fern", "fern")]
# What is remembered across threads (never said in the long thread).
ALLERGIES = ["penicillin", "shellfish", "sesame", "latex"]
DENTISTS = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Brennan"]
UNKNOWN = re.compile(
    r"\b(?:don't|do not|didn't|did not|haven't|have not|hasn't|never|can't|cannot|couldn't|not)\b[^.]{0,60}?"
    r"\b(?:know|mention|mentioned|say|said|tell|told|share|shared|give|given|provide|provided|recall|remember|find"
    r"|found|sure|aware|information|record|specified|stated)\b"
    r"|\bno (?:record|mention|information|details?)\b|\bunknown\b",
)
Groups = tuple[tuple[str, ...], ...]  # phrases: one of each group


# ---------------------------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    """A question about the thread and how its reply is checked.

    ``evidence``: the planted sentences a right answer needs (none for abstention); ``answer``: a right reply (what
    the deterministic fake says when it finds the evidence). ``needs``: groups of phrases; a right reply has one
    phrase of every group, as a whole word (case aside). ``later``: a phrase that must not come before the first
    group's ("which first": naming both in the wrong order is wrong). ``forbid``: a pattern no right reply matches
    (an invented value). An abstention reply is right when it says the thing is not known and invents nothing.
    ``keys``: what a summary must hold for the question to be answerable from it (the values, the day).
    """

    category: str
    question: str
    evidence: tuple[str, ...]
    answer: str
    needs: Groups = ()
    later: str = ""
    forbid: str = ""
    keys: Groups = ()

    def right(self, reply: str) -> bool:
        """Whether ``reply`` answers the question right (see the class)."""
        text = reply.replace("\u2019", "'")
        if self.forbid and re.search(self.forbid, text, re.IGNORECASE):
            return False
        if self.category in ABSTAINING:
            return bool(UNKNOWN.search(text.lower()))
        places = _places(text, self.needs)
        if not places or min(places) < 0:
            return False
        later = _at(text, self.later) if self.later else -1
        return later < 0 or later > places[0]

    def kept(self, summary: str) -> bool:
        """Whether ``summary`` holds one phrase of every group of ``keys`` (an abstention probe needs nothing)."""
        places = _places(summary.replace("\u2019", "'"), self.keys)
        return bool(places) and min(places) >= 0


def _at(text: str, phrase: str) -> int:
    """Where ``phrase`` first occurs in ``text`` as a whole word (an ordinal suffix allowed: "4th"), or -1."""
    found = re.search(rf"(?<!\w){re.escape(phrase)}(?:st|nd|rd|th)?(?!\w)", text, re.IGNORECASE)
    return found.start() if found else -1


def _places(text: str, groups: Groups) -> list[int]:
    """For each group, where its first phrase found in ``text`` is (-1: none of them)."""
    return [min((at for phrase in group if (at := _at(text, phrase)) >= 0), default=-1) for group in groups]


def _amount(value: int) -> tuple[str, ...]:
    """The ways a reply may write a whole number of euros."""
    return (str(value), f"{value:,}")


def _unit(value: int, *units: str) -> tuple[str, ...]:
    """The ways a summary may keep a number with its unit (the number alone could be a turn's)."""
    return tuple(f"{value}{space}{unit}" for unit in units for space in ("", " "))


def _clock(time_of_day: str) -> tuple[str, ...]:
    """The ways a reply may write a time of day ("14:30", "14.30")."""
    return (time_of_day, time_of_day.replace(":", "."))


def _day(day: date) -> tuple[str, ...]:
    """The ways a reply may name a day: its weekday, or its date."""
    weekday, month, short = day.strftime("%A"), day.strftime("%B"), day.strftime("%b")
    return (weekday, f"{day.day} {month}", f"{month} {day.day}", f"{short} {day.day}", day.isoformat())


@dataclass(frozen=True)
class Plant:
    """Facts to plant (in this order) and the probe about them, before they have places in the thread.
    ``apart``: each fact in a session of its own; ``dated``: the answer is the day of the (one) fact, known once it
    is placed; ``latest``: only the last fact is evidence (the others were updated). ``keys`` default to ``needs``."""

    category: str
    facts: tuple[str, ...]
    question: str
    answer: str = ""
    needs: Groups = ()
    later: str = ""
    forbid: str = ""
    keys: Groups = ()
    apart: bool = False
    dated: bool = False
    latest: bool = False

    def probe(self, day: date | None = None) -> Probe:
        """The probe, with the day the fact was said for a ``dated`` plant."""
        evidence = self.facts[-1:] if self.latest else self.facts
        answer, needs, keys = self.answer, self.needs, self.keys or self.needs
        if self.dated and day is not None:
            answer = f"On {day.strftime('%A')} {day.day} {day.strftime('%B')}."
            needs, keys = (_day(day),), (*self.keys, _day(day))
        return Probe(self.category, self.question + ASK, evidence, answer, needs, self.later, self.forbid, keys)


def singles(rng: random.Random) -> list[Plant]:
    """A fact said once."""
    code, name = str(rng.randrange(1000, 10000)), rng.choice(SISTERS)
    password = f"{rng.choice(['heron', 'maple', 'otter', 'juniper', 'cobalt'])}{rng.randrange(10, 100)}"
    city, flight = rng.choice(["Oslo", "Porto", "Krakow", "Dublin"]), f"KL{rng.randrange(1000, 2000)}"
    return [
        Plant("single", (f"my locker code is {code}",), "What is my locker code?", code, ((code,),)),
        Plant("single", (f"my sister is called {name}",), "What is my sister's name?", name, ((name,),)),
        Plant(
            "single",
            (f"the cabin's wifi password is {password}",),
            "What is the wifi password at the cabin?",
            password,
            ((password,),),
        ),
        Plant(
            "single",
            (f"my flight to {city} is {flight}",),
            f"What is my flight number to {city}?",
            flight,
            ((flight, f"{flight[:2]} {flight[2:]}"),),
        ),
    ]


def updates(rng: random.Random) -> list[Plant]:
    """A fact said, then changed: the latest value is the right one."""
    first, then = rng.sample(TIMES, 2)
    old, new = rng.sample(NAMES, 2)
    budget = rng.randrange(4, 11) * 500
    raised = budget + rng.randrange(1, 5) * 500
    meet, moved = rng.sample(WEEKDAYS, 2)
    return [
        Plant(
            "updated",
            (f"the weekly team sync is at {first}", f"the weekly team sync moved to {then}"),
            "What time is the weekly team sync now?",
            then,
            (_clock(then),),
            latest=True,
        ),
        Plant(
            "updated",
            (f"my manager is {old}", f"{new} has taken over as my manager"),
            "Who is my manager now?",
            new,
            ((new,),),
            latest=True,
        ),
        Plant(
            "updated",
            (f"the offsite budget is {budget} euros", f"the offsite budget was raised to {raised} euros"),
            "What is the offsite budget now?",
            f"{raised} euros",
            (_amount(raised),),
            latest=True,
        ),
        Plant(
            "updated",
            (f"I'm meeting the landlord on {meet}", f"the landlord meeting moved to {moved}"),
            "Which day am I meeting the landlord?",
            moved,
            ((moved,),),
            latest=True,
        ),
    ]


def spread(rng: random.Random) -> list[Plant]:
    """Two facts from different sessions, combined (a summary must keep both parts of a sum)."""
    ran, more = rng.sample(range(4, 13), 2)
    books = rng.sample(BOOKS, 2)
    tyres, inspection = rng.randrange(18, 40) * 10, rng.randrange(18, 50) * 5
    (plant, plant_word), (other, other_word) = rng.sample(PLANTS, 2)
    return [
        Plant(
            "multi_session",
            (f"I ran {ran} km before work today", f"I ran {more} km along the river this evening"),
            "How many kilometres have I run in total, adding up the runs I told you about?",
            f"{ran + more} km",
            ((str(ran + more),),),
            keys=(_unit(ran, "km", "kilometres"), _unit(more, "km", "kilometres")),
            apart=True,
        ),
        Plant(
            "multi_session",
            (f"I finished reading {books[0]}", f"I finally finished {books[1]}"),
            "Which books have I told you I finished?",
            f"{books[0]} and {books[1]}",
            ((books[0],), (books[1],)),
            apart=True,
        ),
        Plant(
            "multi_session",
            (f"the new tyres for the car cost {tyres} euros", f"the car's yearly inspection cost {inspection} euros"),
            "How much have I spent on the car in total, from what I told you?",
            f"{tyres + inspection} euros",
            (_amount(tyres + inspection),),
            keys=(_unit(tyres, "euros", "EUR", "€"), _unit(inspection, "euros", "EUR", "€")),
            apart=True,
        ),
        Plant(
            "multi_session",
            (f"I bought {plant} for the balcony", f"I bought {other} for the kitchen"),
            "Which plants have I told you I bought?",
            f"{plant} and {other}",
            ((plant_word,), (other_word,)),
            apart=True,
        ),
    ]


def timing(rng: random.Random) -> list[Plant]:
    """When something was said: which of two first (one question names it first, the other second: a model that
    always picks the option named first gets one of them), and on which day."""
    events = rng.sample(EVENTS, 4)
    plants = []
    for index, (first, second) in enumerate((events[:2], events[2:])):
        named = [first, second] if index == 0 else [second, first]
        question = f"Which did I tell you about first: {named[0][1]} or {named[1][1]}?"
        needs, keys = ((first[2],),), ((first[2],), (second[2],))
        plants.append(Plant("temporal", (first[0], second[0]), question, first[1], needs, second[2], keys=keys))
    for said, named, word in rng.sample(DAY_EVENTS, 2):
        question = f"On which day did I tell you that {named}?"
        plants.append(Plant("temporal", (said,), question, keys=((word,),), dated=True))
    return plants


def never(rng: random.Random) -> list[Plant]:
    """Questions about what was never said, most next to something that was."""
    names = "|".join(NAMES)
    return [
        Plant("abstention", (), "What is my bike lock code?", forbid=r"\d{3,}"),
        Plant("abstention", (), "What time is my dentist appointment?", forbid=r"\b\d{1,2}(?:[:.]\d{2}|\s?[ap]\.?m\b)"),
        Plant("abstention", (), "What is my brother's name?", forbid=rf"\b(?:{names})\b"),
        Plant("abstention", (), "How much did my new laptop cost?", forbid=r"\d{2,}"),
    ]


def remembered(rng: random.Random) -> list[Plant]:
    """Facts the user asks chat to remember (never said in the long thread), asked in a new thread; and two
    questions, next to them, about what was never remembered."""
    card, cousin = str(rng.randrange(10000, 100000)), rng.choice(NAMES)
    allergy, dentist = rng.choice(ALLERGIES), rng.choice(DENTISTS)
    names = "|".join([*NAMES, *DENTISTS])
    return [
        Plant(
            "cross_thread", (f"my library card number is {card}",), "What is my library card number?", card, ((card,),)
        ),
        Plant("cross_thread", (f"my cousin is called {cousin}",), "What is my cousin's name?", cousin, ((cousin,),)),
        Plant("cross_thread", (f"I'm allergic to {allergy}",), "What am I allergic to?", allergy, ((allergy,),)),
        Plant("cross_thread", (f"my dentist is Dr {dentist}",), "What is my dentist's name?", dentist, ((dentist,),)),
        Plant("cross_abstention", (), "What is my gym membership number?", forbid=r"\d{3,}"),
        Plant("cross_abstention", (), "What is my aunt's name?", forbid=rf"\b(?:{names})\b"),
    ]


# ---------------------------------------------------------------------------------------------- the thread


@dataclass(frozen=True)
class Turn:
    """One exchange of the thread, as stored: the question, its canned answer, when it was asked."""

    question: str
    answer: str
    at: datetime


@dataclass
class RecallThread:
    """A generated thread: its turns, the days its sessions are on, every planted sentence, and the probes; and
    what is remembered across threads (``remembered``, never said in the thread) with the probes of new threads
    (``cross``)."""

    turns: list[Turn]
    days: list[date]
    facts: list[str]
    probes: list[Probe]
    seed: int
    remembered: list[str] = field(default_factory=list)
    cross: list[Probe] = field(default_factory=list)

    def messages(self) -> list[Any]:
        """The thread as messages to store: ids of their own, each with its ``created_at``."""
        from langchain_core.messages import AIMessage, HumanMessage

        messages: list[Any] = []
        for index, turn in enumerate(self.turns):
            asked, answered = turn.at.isoformat(timespec="seconds"), (turn.at + timedelta(minutes=1)).isoformat()
            messages.append(HumanMessage(turn.question, id=f"recall-q{index}", response_metadata={"created_at": asked}))
            messages.append(AIMessage(turn.answer, id=f"recall-a{index}", response_metadata={"created_at": answered}))
        return messages

    def tokens(self) -> int:
        """The thread's size as chat estimates it."""
        from langchain_core.messages.utils import count_tokens_approximately

        return count_tokens_approximately(self.messages())


def sessions(turns: int, rng: random.Random) -> tuple[list[int], list[date]]:
    """The first turn of each session, and each session's day (one to four days after the one before)."""
    count = max(3, turns // 10)
    starts = [s * turns // count for s in range(count)]
    day = date(2025, 3, 3) + timedelta(days=rng.randrange(60))
    days = []
    for _ in starts:
        days.append(day)
        day += timedelta(days=rng.choice([1, 1, 2, 3, 4]))
    return starts, days


def place(plants: list[Plant], turns: int, starts: list[int], rng: random.Random) -> dict[int, tuple[Plant, str]]:
    """Each planted fact's turn: never a session's greeting (the first question among them) nor the last turn (both
    stay whole through a compaction); a plant's facts in their order, ``apart`` ones in sessions of their own."""
    ends = [*starts[1:], turns]
    free = {s: [t for t in range(start + 1, end) if t != turns - 1] for s, (start, end) in enumerate(zip(starts, ends))}
    needed = sum(len(plant.facts) for plant in plants)
    if needed > sum(len(slots) for slots in free.values()):
        raise ValueError(f"{turns} turns hold too few free turns for {needed} planted facts: give more --turns")
    placed: dict[int, tuple[Plant, str]] = {}
    for plant in sorted(plants, key=lambda p: not p.apart):  # those that need sessions of their own first
        if plant.apart:
            chosen = sorted(rng.sample([s for s in free if free[s]], len(plant.facts)))
            slots = [rng.choice(free[s]) for s in chosen]
        else:
            slots = sorted(rng.sample([t for s in free for t in free[s]], len(plant.facts)))
        for slot, fact in zip(slots, plant.facts):
            placed[slot] = (plant, fact)
            for kept in free.values():
                if slot in kept:
                    kept.remove(slot)
    return placed


def generate(turns: int = 60, seed: int = 1) -> RecallThread:
    """The thread of ``turns`` turns for ``seed`` (the same text, dates and probes every time)."""
    rng = random.Random(seed)
    plants = [*singles(rng), *updates(rng), *spread(rng), *timing(rng), *never(rng)]
    starts, days = sessions(turns, rng)
    placed = place(plants, turns, starts, rng)
    filler = rng.sample(FILLER, len(FILLER))
    session_of = [max(s for s, start in enumerate(starts) if start <= t) for t in range(turns)]
    made: list[Turn] = []
    clock = datetime.combine(days[0], datetime.min.time(), timezone.utc)
    for t in range(turns):
        session = session_of[t]
        if t in starts:
            clock = datetime.combine(days[session], datetime.min.time(), timezone.utc) + timedelta(hours=9)
        clock += timedelta(minutes=rng.randrange(2, 10))
        asked, answered = filler[t % len(filler)]
        if t in starts:
            day = days[session]
            greeting = rng.choice(GREETINGS).format(day=f"{day.strftime('%A')} {day.day} {day.strftime('%B')}")
            asked = f"{greeting} {asked}"
        elif t in placed:
            asked = f"{rng.choice(LEADS)} {placed[t][1]}. {asked}"
            answered = f"{rng.choice(ACKS)} {answered}"
        made.append(Turn(asked, answered, clock))
    day_of = {fact: days[session_of[t]] for t, (_, fact) in placed.items()}
    probes = [plant.probe(day_of.get(plant.facts[0]) if plant.facts else None) for plant in plants]
    facts = [fact for plant in plants for fact in plant.facts]
    kept = remembered(rng)  # drawn last: the thread is the same as without them
    memories = [fact for plant in kept for fact in plant.facts]
    return RecallThread(made, days, facts, probes, seed, memories, [plant.probe() for plant in kept])


# ---------------------------------------------------------------------------------------------- asking


@dataclass(frozen=True)
class Answer:
    """A probe's reply in one mode, whether it is right, and what its request sent."""

    probe: Probe
    reply: str
    right: bool
    left_out: int = 0
    sent: int | None = None


@dataclass
class ModeRun:
    """One mode's answers, how long it took, and (compacted) what the compaction did and the summary it made."""

    mode: str
    answers: list[Answer]
    seconds: float
    compacted: "Compacted | None" = None
    summary: str = ""

    def score(self, category: str | None = None) -> tuple[int, int]:
        """(right, asked) over ``category``, or over every probe."""
        chosen = [a for a in self.answers if category is None or a.probe.category == category]
        return sum(a.right for a in chosen), len(chosen)


async def ask(conversation: "Thread", probe: Probe) -> Answer:
    """Ask ``probe`` as a turn of the thread, then take the exchange back (``undo``), so no question sees another.
    A question that fails is answered wrong, with the failure as its reply."""
    before = len(await conversation.messages())
    try:
        result = await conversation.send(probe.question)
        reply, left_out, sent = result.text, result.turns_left_out, result.prompt_tokens_est
    except Exception as exc:  # noqa: BLE001 - one failed question is a wrong answer, the run goes on
        reply, left_out, sent = f"(failed: {type(exc).__name__}: {exc})", 0, None
    finally:
        if len(await conversation.messages()) > before:
            await conversation.undo()
    return Answer(probe, reply, probe.right(reply), left_out, sent)


async def run_mode(settings: "Settings", thread: RecallThread, mode: str) -> ModeRun:
    """Write the thread into a thread of its own, compact it (``compacted``), and ask every probe."""
    from chatcli.backends.own.graph import MODEL_NODE

    start = time.perf_counter()
    async with thread_of(settings, f"recall-{mode}", tools=False) as conversation:
        await conversation.app.aupdate_state(conversation.config, {"messages": thread.messages()}, as_node=MODEL_NODE)
        compacted, summary = None, ""
        if mode == "compacted":
            memory = conversation.own("memory")
            compacted = await memory.compact()
            summary = (await memory.summary()).text
        answers = [await ask(conversation, probe) for probe in thread.probes]
    return ModeRun(mode, answers, time.perf_counter() - start, compacted, summary)


async def run(settings: "Settings", thread: RecallThread, budget: int | None = None) -> list[ModeRun]:
    """Both modes on ``settings`` (memory "trim": nothing is folded but by the compaction asked for): ``full`` with
    the settings' history budget, ``compacted`` with ``budget`` (default: the same) for the compaction."""
    full = replace(settings, memory="trim")
    folding = replace(full, context_tokens=min(budget or full.context_tokens, full.context_tokens))
    return [await run_mode(full, thread, "full"), await run_mode(folding, thread, "compacted")]


async def remember(settings: "Settings", thread: RecallThread) -> None:
    """Remember ``thread.remembered`` as ``/remember`` does, in a thread of their own (the settings' database)."""
    async with thread_of(settings, "recall-told", tools=False) as told:
        for text in thread.remembered:
            await told.memories().add(text, "prompt")


async def ask_new(settings: "Settings", thread: RecallThread, mode: str) -> ModeRun:
    """Ask every probe of ``thread.cross`` in a new thread (each taken back, so each question is the thread's
    first)."""
    start = time.perf_counter()
    async with thread_of(settings, f"recall-{mode.replace(' ', '-')}", tools=False) as conversation:
        answers = [await ask(conversation, probe) for probe in thread.cross]
    return ModeRun(mode, answers, time.perf_counter() - start)


async def cross_thread(settings: "Settings", thread: RecallThread) -> list[ModeRun]:
    """Remember ``thread.remembered``, then ask ``thread.cross`` in a new thread with memories on (they reach the
    request only as memories), and in another with memories off (the control: nothing to answer from)."""
    await remember(settings, thread)
    return [
        await ask_new(replace(settings, memories=True), thread, "memories on"),
        await ask_new(replace(settings, memories=False), thread, "memories off"),
    ]


# ---------------------------------------------------------------------------------------------- the report


def share(right: int, asked: int) -> str:
    """A score as a share and a count: "75% (3/4)"."""
    return f"{100 * right / asked:.0f}% ({right}/{asked})" if asked else "—"


def kept(run: ModeRun, category: str | None = None) -> tuple[int, int]:
    """Of the probes with evidence (of ``category``), those whose right answer's values the summary holds."""
    chosen = [a.probe for a in run.answers if a.probe.evidence and category in (None, a.probe.category)]
    return sum(p.kept(run.summary) for p in chosen), len(chosen)


def rows(
    runs: Sequence[ModeRun], thread: RecallThread, label: str, crossed: Sequence[ModeRun] = ()
) -> list[tuple[str, str, str, str]]:
    """The report's rows: the set-up, what each mode sent, then the share right per category and overall; then,
    with ``crossed`` (memories on, off), the questions of new threads."""
    full, compacted = runs
    dash = "—"
    sent = [a.sent for a in full.answers if a.sent]
    out = [
        ("recall: model", label, dash, dash),
        (
            "recall: thread",
            f"{len(thread.turns)} turns in {len(thread.days)} sessions, ~{thread.tokens():,} tokens; "
            f"{len(thread.facts)} planted facts, {len(thread.probes)} questions; seed {thread.seed}",
            dash,
            dash,
        ),
        (
            "recall: full, what a question sent",
            f"~{max(sent, default=0):,} tokens; earlier turns left out: {max(a.left_out for a in full.answers)}",
            dash,
            dash,
        ),
    ]
    if compacted.compacted is not None:
        done, (k, n) = compacted.compacted, kept(compacted)
        out.append(
            (
                "recall: compacted, the compaction",
                f"{done.turns} turns folded, ~{done.before:,} -> ~{done.after:,} tokens sent; summary "
                f"{len(compacted.summary):,} characters, holding the answers of {k}/{n} questions",
                dash,
                dash,
            )
        )
    for category in (*CATEGORIES, None):
        name = category or "all"
        value = f"{share(*full.score(category))} / {share(*compacted.score(category))}"
        out.append((f"recall, {name}: right, full / compacted", value, dash, dash))
    out.append(("recall: time, full / compacted", f"{full.seconds:.1f} s / {compacted.seconds:.1f} s", dash, dash))
    if crossed:
        out += cross_rows(crossed, thread)
    return out


def cross_rows(crossed: Sequence[ModeRun], thread: RecallThread) -> list[tuple[str, str, str, str]]:
    """The rows of the questions asked in new threads, with memories on and off."""
    on, off = crossed
    dash = "—"
    about = sum(bool(p.evidence) for p in thread.cross)

    def most(run: ModeRun) -> str:
        return f"~{max((a.sent for a in run.answers if a.sent), default=0):,}"

    return [
        (
            "recall: cross_thread",
            f"{len(thread.remembered)} facts remembered (as /remember keeps them) in a thread of their own; "
            f"{len(thread.cross)} questions in new threads: {about} about them, {len(thread.cross) - about} about "
            "what was never remembered",
            dash,
            dash,
        ),
        ("recall: cross_thread, what a question sent", f"{most(on)} tokens, {most(off)} with memories off", dash, dash),
        ("recall, cross_thread: right, in a new thread", share(*on.score("cross_thread")), dash, dash),
        ("recall, cross_thread (memories off): right, in a new thread", share(*off.score("cross_thread")), dash, dash),
        (
            "recall, cross_abstention: right, memories on / off",
            f"{share(*on.score('cross_abstention'))} / {share(*off.score('cross_abstention'))}",
            dash,
            dash,
        ),
        ("recall: time, memories on / off", f"{on.seconds:.1f} s / {off.seconds:.1f} s", dash, dash),
    ]


def cell(answer: Answer) -> str:
    """A reply in a table cell: "right", or "wrong:" and its first words."""
    if answer.right:
        return "right"
    text = " ".join(answer.reply.split()).replace("|", "\\|")
    return f"wrong: {text[:90]}{'...' if len(text) > 90 else ''}"


def details(runs: Sequence[ModeRun], crossed: Sequence[ModeRun] = ()) -> str:
    """Each question's result in both modes (and in new threads, memories on and off), and the summary the
    compaction made."""
    full, compacted = runs
    lines = ["", "| category | question | full | compacted |", "|---|---|---|---|"]
    for a, b in zip(full.answers, compacted.answers):
        lines.append(f"| {a.probe.category} | {a.probe.question.removesuffix(ASK)} | {cell(a)} | {cell(b)} |")
    if crossed:
        on, off = crossed
        lines += [
            "",
            "In new threads:",
            "",
            "| category | question | memories on | memories off |",
            "|---|---|---|---|",
        ]
        for a, b in zip(on.answers, off.answers):
            lines.append(f"| {a.probe.category} | {a.probe.question.removesuffix(ASK)} | {cell(a)} | {cell(b)} |")
    summary = compacted.summary if len(compacted.summary) <= 3000 else compacted.summary[:3000] + " [...]"
    return "\n".join([*lines, "", "The summary the compaction made:", "", "```text", summary, "```", ""])


def write(runs: Sequence[ModeRun], thread: RecallThread, label: str, out: str, crossed: Sequence[ModeRun] = ()) -> str:
    """Print and write the report (benchmarks/report.py), then each question's results below it."""
    text = report(rows(runs, thread, label, crossed), 1, out, how="one run: each question asked once in each mode")
    more = details(runs, crossed)
    with open(out, "a", encoding="utf-8") as handle:
        handle.write(more)
    return text + more


# ---------------------------------------------------------------------------------------------- the command line


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-m", "--model", help="any model chat can reach (default: chat's own setting)")
    parser.add_argument("--local", action="store_true", help="chat's local model (the local extra)")
    parser.add_argument("--local-model", help="a GGUF file for the local model instead of the bundled one")
    parser.add_argument("--local-n-ctx", type=int, default=8192, help="the local model's window (default 8192)")
    parser.add_argument("--fake", action="store_true", help="the deterministic fake of tests/recall_fake.py")
    parser.add_argument("--turns", type=int, default=60, help="turns of the thread (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed (default 1)")
    parser.add_argument("--budget", type=int, help="history budget (tokens) of the compaction (default: the full's)")
    parser.add_argument("--temperature", type=float, help="the model's temperature (default: the model's own)")
    parser.add_argument("--out", default=str(HERE / "results-recall.md"))
    return parser.parse_args(argv)


def settings_for(options: argparse.Namespace, thread: RecallThread, db: Path, stack: ExitStack) -> "Settings":
    """The settings to run with: the fake's server (chat's data directories in the temporary one), the local
    model's (started here, stopped with ``stack``), or chat's own with ``-m``; a budget that fits the whole thread (a
    local model's window may not), a temporary database."""
    from chatcli.config import Settings, load_settings

    budget = thread.tokens() + MARGIN
    if options.fake:
        from tests.fakeserver import FakeOpenAIServer
        from tests.recall_fake import RecallFake

        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):  # what chat learns of it stays here
            os.environ[name] = str(db.parent / name.lower())
        server = stack.enter_context(FakeOpenAIServer(default_reply=RecallFake(thread).reply))
        return Settings(
            model="gpt-fake",
            api_key="sk-fake",
            base_url=server.base_url,
            db=str(db),
            max_retries=0,
            context_tokens=budget,
        )
    flags = {
        "model": options.model,
        "local": True if options.local or options.local_model else None,
        "local_model": options.local_model,
        "local_n_ctx": options.local_n_ctx,
        "context_tokens": budget,
        "db": str(db),
        "temperature": options.temperature,
    }
    settings = load_settings(flags)
    if settings.local:
        from chatcli.local import policy

        settings = stack.enter_context(policy.serving(settings, say=lambda line: print(line, file=sys.stderr)))
    return settings


async def both(settings: "Settings", thread: RecallThread, budget: int | None) -> tuple[list[ModeRun], list[ModeRun]]:
    """The long thread's modes, then (the memories kept only now, so the long thread's requests carry none) the
    questions of new threads."""
    return await run(settings, thread, budget), await cross_thread(settings, thread)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    thread = generate(options.turns, options.seed)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        settings = settings_for(options, thread, Path(tmp) / "recall.db", stack)
        label = "deterministic fake (tests/recall_fake.py)" if options.fake else settings.model
        runs, crossed = asyncio.run(both(settings, thread, options.budget))
    write(runs, thread, label, options.out, crossed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
