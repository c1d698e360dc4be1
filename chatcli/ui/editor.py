"""Writing the next message in $VISUAL or $EDITOR: Ctrl-X Ctrl-E at the prompt, or /edit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import subprocess
import tempfile
from typing import Any, Mapping

from chatcli.errors import UsageError

# Tried after $VISUAL and $EDITOR, as prompt-toolkit does for Ctrl-X Ctrl-E.
FALLBACKS = ("editor", "nano", "vi")


async def edit_text(initial: str = "", environ: Mapping[str, str] | None = None) -> str:
    """Open the user's editor on ``initial`` (the event loop goes on meanwhile); what it saves (without the last
    newline)."""
    environ = os.environ if environ is None else environ
    fd, path = tempfile.mkstemp(prefix="chat-", suffix=".md")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(initial)
        if (code := await asyncio.to_thread(_run_editor, path, environ)) != 0:
            raise UsageError(f"the editor exited with status {code}: nothing changed")
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    finally:
        os.unlink(path)
    return text[:-1] if text.endswith("\n") else text


def _run_editor(path: str, environ: Mapping[str, Any]) -> int:
    for editor in (environ.get("VISUAL"), environ.get("EDITOR"), *FALLBACKS):
        if not editor:
            continue
        with contextlib.suppress(OSError):
            return subprocess.call([*shlex.split(editor), path])
    raise UsageError("no editor to open", hint="set $VISUAL or $EDITOR, e.g. export EDITOR=nano")
