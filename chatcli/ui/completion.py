"""Tab completion at the prompt: command names, and thread ids from a cache filled between prompts."""

from __future__ import annotations

from typing import Iterable

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from chatcli.chat.threads import Threads
from chatcli.ui.registry import REGISTRY, commands, is_command


class ThreadCache:
    """Thread ids and titles for Tab completion, refreshed between prompts so Tab never waits."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    async def refresh(self, threads: Threads) -> None:
        rows = await threads.list(500)
        self.items = [(t.thread_id, " ".join((t.title or "").split())[:40]) for t in rows]


class CommandCompleter(Completer):
    """Tab completes command names, and the first argument (thread ids after /switch) from a cache."""

    def __init__(self, threads: ThreadCache):
        self.threads = threads

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        text = document.text_before_cursor.lstrip()
        if not is_command(text) or "\n" in text:
            return
        name, space, word = text.partition(" ")
        if not space:
            for entry in commands():
                if entry.name.startswith(name.lower()):
                    suffix = " " if entry.args else ""
                    yield Completion(entry.name + suffix, -len(name), display=entry.name, display_meta=entry.help)
            return
        found = REGISTRY.get(name.lower())
        word = word.lstrip()
        if found is None or " " in word:
            return  # only the first argument completes
        choices = self.threads.items if found.complete == "threads" else [(w, "") for w in found.complete]
        for value, meta in choices:
            if value.startswith(word):
                yield Completion(value, -len(word), display_meta=meta)
