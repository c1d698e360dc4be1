"""What only chat's own graph does with a thread: the model it asks (``ModelChoice``), the prompt it builds (role,
system prompt, variables) and the memory it keeps (compaction, the summary, pins).

A thread answered by chat's own graph has an ``OwnPrompt`` (``Thread.prompt``); a graph of the user's or an Agent
Server's assistant has none: it builds its own prompt and keeps its own memory. A door asks for it with
``Thread.own(part)``, which refuses in one line when it is absent; nothing in here asks again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from chatcli.core.inputs import check_utf8
from chatcli.errors import UsageError

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from chatcli.backends.own.roles import Role
    from chatcli.core.events import Compacted, Listener
    from chatcli.core.graph_app import Compactor, GraphApp
    from chatcli.core.turn import Config
    from chatcli.service.backend import Backend
    from chatcli.service.recall import SummaryView

# The longest focus /compact, `chat compact --focus` and chat serve take: an instruction, not a document.
MAX_FOCUS = 2000


def _text_or_none(value: object) -> str | None:
    """A text the thread's state keeps (its role's name, its system prompt), or None."""
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class ModelChoice:
    """The model and temperature chat's own graph answers a thread with: ``name`` is asked now (None: the settings'),
    ``default`` when no role names one (the settings', or -m); ``pinned``: -m or /model chose it, so the thread's role
    does not replace it; ``temperature`` None is the settings', and ``temperature_pinned`` (--temperature) wins over
    the role's."""

    name: str | None = None
    default: str | None = None
    pinned: bool = False
    temperature: float | None = None
    temperature_pinned: bool = False

    def taken_up(self, model: str | None, temperature: float | None) -> ModelChoice:
        """This choice with ``model`` and ``temperature`` (the thread's role's; None: the defaults), unless -m, /model
        or --temperature chose others."""
        name = self.name if self.pinned else model or self.default
        return replace(self, name=name, temperature=self.temperature if self.temperature_pinned else temperature)


class Held(Protocol):
    """What of its thread (chatcli.service.thread.Thread) the prompt reads and changes."""

    backend: Backend
    pending: dict[str, Any]  # the thread's settings (its state's values) kept for its next turn
    model: ModelChoice
    listener: Listener  # hears what its turns (and a compaction's hooks) say

    @property
    def app(self) -> GraphApp: ...

    @property
    def config(self) -> Config: ...

    def lock(self) -> AbstractAsyncContextManager[None]: ...


class OwnPrompt:
    """The prompt and memory chat's own graph keeps for ``thread`` (folded by its compactor). What is set before
    the thread's first message waits in ``thread.pending`` for it."""

    def __init__(self, thread: Held):
        self.thread = thread

    # ---- the prompt: role, system prompt, variables

    async def set_role(self, role: Role) -> None:
        """Set the thread up with ``role``: its system prompt, variables, model and temperature are kept with the
        thread, as the system prompt is; a role without a model or temperature puts the defaults back. Stored now
        in a thread that has messages."""
        thread = self.thread
        check_utf8(role.system, "the role's system prompt")
        thread.pending.pop("system", None)  # e.g. from --system: the role's replaces it
        async with thread.lock():
            values = (await thread.app.aget_state(thread.config)).values
            update = {
                "system": role.system,
                "vars": {**(values.get("vars") or {}), **thread.pending.get("vars", {}), **role.vars},
                "role": role.name,
                "model": role.model,
                "temperature": role.temperature,
            }
            if values.get("messages"):
                await thread.backend.change(thread.config, update)
                for key in update:
                    thread.pending.pop(key, None)
            else:
                thread.pending.update(update)
        # Chosen after -m or /model: the role's model (or the default) it is.
        thread.model = replace(thread.model, pinned=False).taken_up(role.model, role.temperature)

    async def role(self) -> str | None:
        """The name of the role the thread was set up with, if any."""
        if "role" in self.thread.pending:
            return _text_or_none(self.thread.pending["role"])
        return _text_or_none((await self.thread.app.aget_state(self.thread.config)).values.get("role"))

    async def set_system(self, system: str | None = None, variables: dict[str, str] | None = None) -> None:
        """Change the thread's system prompt and/or variables from the next turn on."""
        thread = self.thread
        if system is not None:
            thread.pending["system"] = check_utf8(system, "the system prompt")
        for name, value in (variables or {}).items():
            check_utf8(value, f"--var {name}")
        if variables:
            state = await thread.app.aget_state(thread.config)
            thread.pending["vars"] = {**(state.values.get("vars") or {}), **thread.pending.get("vars", {}), **variables}

    async def system_prompt(self) -> str | None:
        """The thread's own system prompt (set for the next turn, or stored); None for the default."""
        state = await self.thread.app.aget_state(self.thread.config)
        return _text_or_none(self.thread.pending.get("system") or state.values.get("system"))

    async def replace_system(self, text: str) -> None:
        """Set the thread's system prompt now: stored at once in a thread that has messages,
        so that /retry and other processes see it; kept for the first turn of an empty one."""
        thread = self.thread
        thread.pending.pop("system", None)  # e.g. from --system: this one replaces it
        async with thread.lock():
            if (await thread.app.aget_state(thread.config)).values.get("messages"):
                await thread.backend.change(thread.config, {"system": check_utf8(text, "the system prompt")})
            else:
                await self.set_system(text)

    # ---- the summary sent in place of the earlier turns (chatcli.backends.own.compaction)

    def _folder(self) -> Compactor:
        """The compactor, or one line saying this conversation has none."""
        if self.thread.backend.compactor is None:
            raise UsageError("this conversation cannot compact its thread")
        return self.thread.backend.compactor

    async def compact(self, focus: str | None = None) -> Compacted:
        """Fold every turn but the last into the thread's summary (a checkpoint: /undo takes it back), steered by
        ``focus``; the thread keeps every message, only what is sent changes."""
        compactor, thread = self._folder(), self.thread
        if focus is not None:
            focus = " ".join(check_utf8(focus, "the focus").split()) or None
        if focus is not None and len(focus) > MAX_FOCUS:
            raise UsageError(f"the focus is {len(focus):,} characters long: at most {MAX_FOCUS:,}")
        async with thread.lock():
            state = await thread.app.aget_state(thread.config)
            if not state.values.get("messages"):
                raise UsageError("nothing to compact: this thread has no message yet")
            update, done = await compactor.compact(state.values, thread.config, focus, thread.listener.hear)
            await thread.backend.change(marked(thread.config, "compact"), update)
        return done

    async def summary(self) -> SummaryView:
        """What is sent in place of the earlier turns: the summary, the turns it covers, those kept whole."""
        from chatcli.backends.own.compaction import covered, first_question
        from chatcli.service.recall import SummaryView

        self._folder()
        values = (await self.thread.app.aget_state(self.thread.config)).values
        messages = list(values.get("messages", []))
        text, upto = covered({**values, "messages": messages})
        questions = [m.id for m in messages if m.type == "human"]
        pinned = [questions.index(i) + 1 for i in values.get("pinned") or [] if i in questions]
        first, covers = first_question(messages), sum(m.type == "human" for m in messages[:upto])
        whole, made = first is not None and first < upto, values.get("compaction") if text else None
        return SummaryView(text, covers, len(questions), sorted(pinned), whole, made)

    async def edit_summary(self, text: str) -> None:
        """Make ``text`` the summary sent in place of the turns it covers (/summary edit; /undo takes it back)."""
        from chatcli.backends.own.compaction import edited

        self._folder()
        check_utf8(text, "the summary")
        thread = self.thread
        async with thread.lock():
            values = (await thread.app.aget_state(thread.config)).values
            await thread.backend.change(marked(thread.config, "edit"), edited(values, text))

    async def pin(self, turn: int | None = None, on: bool = True) -> int:
        """Pin turn ``turn`` (counted from 1; the last by default): its question, with what it attached, and its
        answers' text are sent whole through any compaction; ``on=False`` unpins it. The turn's number."""
        self._folder()
        thread = self.thread
        async with thread.lock():
            values = (await thread.app.aget_state(thread.config)).values
            questions = [m.id for m in values.get("messages", []) if m.type == "human"]
            if not questions:
                raise UsageError("nothing to pin: this thread has no message yet")
            number = len(questions) if turn is None else turn
            if not 1 <= number <= len(questions):
                raise UsageError(f"the thread has turns 1 to {len(questions)}, not {turn}")
            chosen, pinned = questions[number - 1], list(values.get("pinned") or [])
            kept = [i for i in pinned if i != chosen] + ([chosen] if on else [])
            if kept != pinned:
                await thread.backend.change(thread.config, {"pinned": kept})
        return number


def marked(config: dict[str, Any], change: str) -> dict[str, Any]:
    """``config`` for a write of chat's own ``change`` to the thread ("compact", "edit", "undo"), which its checkpoint's
    metadata keeps (chatcli.store.base.MARK): the thread's tree shows a compaction and a summary edit as nodes."""
    from chatcli.store.keys import MARK

    return {**config, "metadata": {**(config.get("metadata") or {}), MARK: change}}
