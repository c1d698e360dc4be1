"""What a thread can do besides asking and answering, by what answers it: a leaf of the service, read by what answers
(chatcli.service.answerer), the backends (which say what their threads can do) and the command registry
(chatcli.service.commands, which filters by it)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable

from chatcli.errors import UsageError

NOT_HERE = "the graph builds its own prompt and chooses its own model"


class Ability(enum.Enum):
    """What a command may need of the thread it runs on."""

    KEPT = "kept"  # chat keeps the thread and runs it (its database): not an Agent Server's, which keeps its own
    PROMPT = "prompt"  # chat's own prompt, model and memory: not a graph's, which builds and keeps its own


@dataclass(frozen=True)
class Abilities:
    """What a thread does besides asking and answering, and why it does not when it does not.

    ``prompt``: chat's own system prompt, roles and variables, the model and temperature a thread keeps, its tools,
    and compaction (a graph of the user's builds its own prompt, chooses its own model and keeps its own memory:
    ``hint`` says so). ``files``: files sent with a question; ``files_hint`` says what to do instead.
    ``kept``: chat keeps the thread and runs it (an Agent Server keeps its own: the commands that need that are
    refused, chatcli.service.commands).
    """

    prompt: bool = True
    files: bool = True
    hint: str = ""
    where: str = ""  # what the files cannot be sent to, whose threads these are: "a LangGraph server"
    files_hint: str = ""
    kept: bool = True
    # The flag that chooses it (chatcli.app.flags names what refuses each flag), and how a flag of what it does not
    # have is refused, after the flag's name (and the hint).
    flag: str = ""
    refusal: tuple[str, str | None] = ("", None)

    def refuse(self, flags: Iterable[str]) -> None:
        """A UsageError for the first of ``flags`` (given on the command line, each one it refuses), said once for
        every kind: a flag that does not apply is never ignored."""
        for name in flags:
            raise UsageError(f"{name} {self.refusal[0]}", hint=self.refusal[1])

    @property
    def abilities(self) -> frozenset[Ability]:
        """What the commands may need that a thread here can do (chatcli.service.commands filters by it)."""
        return frozenset(a for a, can in ((Ability.KEPT, self.kept), (Ability.PROMPT, self.prompt)) if can)


# What each answers (as a thread's binding names it, chatcli.core.binding.Kind) can do.
CAN = {
    "chat": Abilities(),
    "graph": Abilities(
        prompt=False,
        hint=NOT_HERE,
        flag="--graph",
        refusal=("does not apply to --graph", "the graph chooses its own model, prompt and tools"),
    ),
    "remote": Abilities(
        prompt=False,
        files=False,
        hint=NOT_HERE,
        where="a LangGraph server",
        files_hint="paste the text into the message",
        kept=False,
        flag="--remote",
        refusal=("does not apply with --remote: the server's graph has its own model, prompt and tools", None),
    ),
}
