"""Tab completion at the prompt: command names, then the first argument from what is at hand.

Thread ids come from a cache filled between prompts, model ids from one filled in the
background, role names from the roles directory, file names from the disk: Tab never waits
on the network or the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, AsyncGenerator, Awaitable, Callable, Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from chatcli.provider_table import DEFAULT, name_of
from chatcli.tools.listing import PREFIX
from chatcli.ui.registry import defined, is_command

if TYPE_CHECKING:
    from chatcli.service.backend import ThreadList
    from chatcli.service.commands import Commands
    from chatcli.tools.toolbox import Toolbox

# Seconds a model list is used before Tab fetches it again (in the background).
MODELS_FRESH = 300.0


class ThreadCache:
    """Thread ids and titles for Tab completion, refreshed between prompts so Tab never waits."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    async def refresh(self, threads: ThreadList) -> None:
        rows = await threads.list(500)
        self.items = [(t.thread_id, " ".join((t.title or "").split())[:40]) for t in rows]


class ModelCache:
    """The server's model ids for Tab after /model: fetched in the background, kept a few minutes."""

    def __init__(self, fetch: Callable[[], Awaitable[list[str]]] | None = None):
        self.fetch = fetch
        self.items: list[str] = []
        self._fetched_at = -MODELS_FRESH  # (never)
        self._task: asyncio.Task[None] | None = None

    def refresh_soon(self) -> None:
        """Start fetching the list unless it is fresh or on its way; returns at once."""
        fresh = time.monotonic() - self._fetched_at < MODELS_FRESH
        if self.fetch is None or fresh or (self._task is not None and not self._task.done()):
            return
        with contextlib.suppress(RuntimeError):  # no event loop: nothing to fetch with
            self._task = asyncio.get_running_loop().create_task(self._fetch(self.fetch))

    async def _fetch(self, fetch: Callable[[], Awaitable[list[str]]]) -> None:
        with contextlib.suppress(Exception):  # Tab offers what it had; `chat models` says what went wrong
            self.items = list(await fetch())
        self._fetched_at = time.monotonic()  # a failure too: not asked again at every Tab


class CommandCompleter(Completer):
    """Tab completes command names (MCP prompts too), the first argument: thread ids, model ids,
    role names, files; and in a question, the MCP resources after ``@`` (``@notes:notes://today``).

    ``toolbox`` gives the session's tools once they are loaded (None before); ``commands`` the chat's commands, asked
    for at Tab (those chat defines when none are given).
    """

    def __init__(
        self,
        threads: ThreadCache,
        models: ModelCache | None = None,
        roles_dir: str | None = None,
        toolbox: Callable[[], Toolbox | None] | None = None,
        commands: Callable[[], Commands] | None = None,
    ):
        self.threads, self.models, self.roles_dir = threads, models or ModelCache(), roles_dir
        self.toolbox, self.commands = toolbox or (lambda: None), commands or defined
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor.lstrip()
        if not is_command(text):
            yield from self._mentions(document.get_word_before_cursor(WORD=True))
            return
        if "\n" in text:
            return
        name, space, word = text.partition(" ")
        registry = self.commands()
        if not space:
            toolbox = self.toolbox()  # the session's skills, then its MCP servers' prompts (their names as written)
            for entry in [*registry.listed(), *registry.skills(toolbox), *registry.prompts(toolbox)]:
                if entry.name.startswith(name if entry.name.startswith(PREFIX) else name.lower()):
                    suffix = " " if entry.args else ""
                    yield Completion(entry.name + suffix, -len(name), display=entry.name, display_meta=entry.help)
            return
        found = registry.get(name.lower())
        word = word.lstrip()
        if found is None or " " in word:
            return  # only the first argument completes
        if found.complete == "files":
            yield from self._paths.get_completions(Document(word, len(word)), complete_event)
            return
        for value, meta in self._choices(found.complete):
            if value.startswith(word) or (found.complete == "models" and _model_part(value).startswith(word)):
                yield Completion(value, -len(word), display_meta=meta)

    async def get_completions_async(
        self, document: Document, complete_event: CompleteEvent
    ) -> AsyncGenerator[Completion, None]:
        """As ``get_completions``; and an MCP prompt's arguments, as its server completes them (completion/complete,
        asked at Tab, never while typing)."""
        text = document.text_before_cursor.lstrip()
        argument = text.startswith(PREFIX) and " " in text and "\n" not in text and self.toolbox() is not None
        offered = await self._prompt_argument(text) if argument else self.get_completions(document, complete_event)
        for completion in offered:
            yield completion

    async def _prompt_argument(self, text: str) -> list[Completion]:
        from chatcli.tools.context import argument_at, complete_argument, prompts

        command, _, rest = text.partition(" ")
        entry = next((p for p in prompts(self.toolbox()) if p.command == command), None)
        words = rest.split(" ")
        found = argument_at(entry, [w for w in words[:-1] if w] + [words[-1]]) if entry is not None else None
        if entry is None or found is None:
            return []
        argument, value, given = found
        offered = await complete_argument(self.toolbox(), entry, argument, value, given)
        typed = words[-1]
        prefix = typed[: len(typed) - len(value)]  # "name=" when the argument was named
        return [Completion(prefix + v, -len(typed), display=v, display_meta=argument) for v in offered]

    def _mentions(self, word: str) -> Iterable[Completion]:
        if not word.startswith("@") or self.toolbox() is None:
            return
        from chatcli.tools.context import resources

        for resource in resources(self.toolbox()):
            if resource.mention.startswith(word):
                yield Completion(resource.mention, -len(word), display_meta=resource.description or resource.name)

    def _choices(self, kind: str | tuple[str, ...]) -> list[tuple[str, str]]:
        if kind == "threads":
            return self.threads.items
        if kind == "models":
            self.models.refresh_soon()
            return [(m, _provider_label(m)) for m in self.models.items]
        if kind == "roles":
            from chatcli.backends.own.roles import role_names

            try:
                return [(r, "role") for r in role_names(Path(self.roles_dir))] if self.roles_dir else []
            except OSError:
                return []  # an unreadable roles directory: /role NAME says why
        return [(w, "") for w in kind]


def _model_part(name: str) -> str:
    """The model of ``provider:model`` (``gem`` Tabs to ``google_genai:gemini-2.5-flash``); a bare name as it is."""
    return name.partition(":")[2] if name_of(name) != DEFAULT else name


def _provider_label(name: str) -> str:
    """Whose model ``name`` is, beside it in the Tab menu: "" for the OpenAI-compatible endpoint's."""
    from chatcli.providers import provider

    chosen = name_of(name)
    return "" if chosen == DEFAULT else provider(chosen).label
