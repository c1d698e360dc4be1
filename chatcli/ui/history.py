"""The prompt's input history: kept across sessions in a file only the user can read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from prompt_toolkit.history import FileHistory

from chatcli.errors import ConfigError


class KeptHistory(FileHistory):
    """The input history file, keeping only lines that ``keep`` accepts (not a refused 10 MB paste)."""

    def __init__(self, filename: str, keep: Callable[[str], bool]):
        super().__init__(filename)
        self.keep = keep

    def store_string(self, string: str) -> None:
        if self.keep(string):
            super().store_string(string)


def private_history(path: str, keep: Callable[[str], bool] = lambda line: True) -> FileHistory:
    """Input history kept across sessions in a file only the user can read; ``keep`` picks the lines."""
    history = Path(path).expanduser()
    if history.is_dir():
        raise ConfigError(f"the input history file {history} is a directory", hint="set CHATCLI_HISTORY_FILE to a file")
    try:
        history.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {history.parent}: {exc.strerror}", hint="set CHATCLI_HISTORY_FILE") from None
    if not history.exists():
        os.close(os.open(history, os.O_CREAT | os.O_WRONLY, 0o600))
    return KeptHistory(str(history), keep)
