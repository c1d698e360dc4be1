"""What every request of chat's own graph carries beside its thread: the project's instructions and the memories.

- **The project's instructions**: ``AGENTS.md`` at the root of the git repository the working directory is in, and
  in the working directory itself (when that is another directory), as codex, opencode and crush read it; where
  there is none, Claude Code's ``CLAUDE.md``. Text for
  the model, never a setting: nothing in it changes where chat connects or what it runs. Each file is read up to
  ``MAX_INSTRUCTIONS`` characters (a longer one is cut, and said).
- **The memories** the user asked chat to keep (chatcli.core.memories), from LangGraph's store the graph is
  compiled with, within their share of the request's budget: all of them when they fit, else the nearest the
  question first where an embedding model is set (chatcli.backends.own.relevance), the newest first otherwise.

Both go at the end of the system message, each under a heading that says whose words they are.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from chatcli.core.events import Notice

if TYPE_CHECKING:
    from chatcli.backends.own.relevance import Relevance
    from chatcli.store.memories import Memory, MemoryBook

NAMES = ("AGENTS.md", "CLAUDE.md")  # codex's, opencode's and crush's; else Claude Code's
RANKING_SECONDS = 30.0  # the most one request waits for its memories' ranking (vectors made by then are kept)
MAX_INSTRUCTIONS = 32 * 1024  # characters of one AGENTS.md sent


def _owned(path: Path, follow: bool = True) -> bool:
    """True when ``path`` is the user's own (or root's): another user's directory or file is not the project's.
    Not ``follow``: ``path`` itself must be a regular file (a link is none)."""
    try:
        info = path.stat() if follow else path.lstat()
    except OSError:
        return False
    return (follow or stat.S_ISREG(info.st_mode)) and info.st_uid in (os.getuid(), 0)


def _git_root(start: Path) -> Path | None:
    """The directory holding ``.git`` at or above ``start`` (None outside a repository); one another user made (a
    ``/tmp/.git``) is none, as git itself refuses it (safe.directory)."""
    found = next((directory for directory in (start, *start.parents) if (directory / ".git").exists()), None)
    return found if found is not None and _owned(found) and _owned(found / ".git") else None


def instruction_files(workdir: str | os.PathLike[str]) -> list[Path]:
    """The AGENTS.md (else CLAUDE.md) files in effect in ``workdir``: the repository root's, then the directory's own;
    each a regular file of the user's (not a link: a cloned repository's link could name a file of the user's
    elsewhere)."""
    here = Path(workdir).resolve()
    places = [root for root in (_git_root(here),) if root is not None]
    if here not in places:
        places.append(here)
    found = (next((place / n for n in NAMES if _owned(place / n, follow=False)), None) for place in places)
    return [path for path in found if path is not None]


def _read(path: Path) -> tuple[str, bool]:
    """The file's text (invalid UTF-8 replaced), at most MAX_INSTRUCTIONS characters; whether it was cut. Opened
    without following a link nor waiting on a FIFO put in its place since it was looked at; what was opened is
    checked (its type and its owner: the user's or root's), not what the name was before the open."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise OSError(0, "not a regular file")
        if opened.st_uid not in (os.getuid(), 0):
            raise OSError(0, f"owned by another user (uid {opened.st_uid})")
        data = handle.read(MAX_INSTRUCTIONS * 4 + 1)
    text = data.decode("utf-8", "replace")
    return text[:MAX_INSTRUCTIONS], len(text) > MAX_INSTRUCTIONS


def project_instructions(workdir: str | os.PathLike[str], say: Callable[[str], None] | None = None) -> str:
    """The project's AGENTS.md files as the system message carries them ("" with none)."""
    parts = []
    for path in instruction_files(workdir):
        try:
            text, cut = _read(path)
        except OSError as exc:
            if say is not None:
                say(f"{path} could not be read ({exc.strerror or exc}): left out")
            continue
        if cut and say is not None:
            say(f"{path} is longer than {MAX_INSTRUCTIONS:,} characters: only its beginning is sent")
        if text.strip():
            parts.append(f"The project's instructions ({path}):\n{text.strip()}")
    return "\n\n".join(parts)


@dataclass
class Standing:
    """What the requests carry (``memories``, ``project``: each on or off, the settings' ``memories`` and
    ``project_instructions``); ``workdir``: where the project is (None: the process's working directory, or the
    run's ``configurable.workdir``: an editor's session)."""

    memories: bool = True
    project: bool = True
    workdir: str | None = None
    relevance: "Relevance | None" = None  # the embedding model's ranking, when one is set
    said: set[str] = field(default_factory=set)  # the warnings said already

    async def context(
        self, config: Any, budget: int, emit: Callable[[Any], None], question: str = ""
    ) -> tuple[str, list[str]]:
        """The text for the end of this request's system message (``question``: what was asked, which the memories
        are ranked by when they do not all fit), and the ids of the memories in it."""
        configurable = (config or {}).get("configurable") or {}
        parts, used = [], []

        def say(text: str) -> None:  # once a process, not at each model step
            if text not in self.said:
                self.said.add(text)
                emit(Notice(text, warn=True))

        if self.project:
            workdir = configurable.get("workdir") or self.workdir or os.getcwd()
            parts.append(project_instructions(workdir, say))
        if self.memories:
            from chatcli.core.memories import block

            picked = await self._memories(budget, question, say)
            parts.append(block(picked))
            used = [m.id for m in picked]
        return "\n\n".join(p for p in parts if p), used

    async def _memories(self, budget: int, question: str, say: Callable[[str], None]) -> list[Memory]:
        """The memories this request carries: all that fit; past their share, the nearest ``question`` first with
        an embedding model (the newest, said in a line, when it fails), the newest first without one."""
        from chatcli.core.memories import chosen

        try:
            book = _book()
            memories = await book.all()
        except Exception as exc:  # noqa: BLE001 - the question still goes, without them
            say(f"the memories could not be read ({_line(exc)}): the question goes without")
            return []
        picked = chosen(memories, budget)
        if self.relevance is None or len(picked) == len(memories) or not question.strip():
            return picked
        try:
            scores = await asyncio.wait_for(self.relevance.scores(book, memories, question), RANKING_SECONDS)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the newest go instead
            line = self.relevance.describe(exc) or _line(exc)
            say(f"the memories could not be ranked with {self.relevance.spec} ({line}): the newest are sent")
            return picked
        return chosen(memories, budget, scores)


def _line(exc: BaseException) -> str:
    """An error as a short line, in its own words."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {RANKING_SECONDS:g} s"
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _book() -> "MemoryBook":
    """The user's memories in the store the running graph was compiled with."""
    from langgraph.config import get_store

    from chatcli.store.memories import MemoryBook

    store = get_store()
    if store is None:
        raise RuntimeError("the graph has no store")
    return MemoryBook(store)
