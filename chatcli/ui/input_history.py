"""The prompt's input history: kept across sessions in a file only the user can read."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from prompt_toolkit.history import FileHistory

from chatcli.errors import ConfigError
from chatcli.paths import private_dir


class KeptHistory(FileHistory):
    """The input history file, keeping only lines that ``keep`` accepts (not a refused 10 MB paste).

    A file that cannot be written (its directory removed, the disk full) never ends the session:
    a removed one is made again; otherwise ``warn`` says so once and the lines stay in memory.
    """

    def __init__(self, filename: str, keep: Callable[[str], bool]):
        super().__init__(filename)
        self.path, self.keep, self._failed = Path(filename), keep, False
        self.warn: Callable[[str], None] = lambda text: None

    def store_string(self, string: str) -> None:
        if not self.keep(string) or self._failed:
            return
        try:
            try:
                super().store_string(string)
            except FileNotFoundError:  # its directory was removed while chat ran: made again
                _create(self.path)
                super().store_string(string)
        except (OSError, ConfigError) as exc:
            self._failed = True
            why = getattr(exc, "strerror", None) or exc
            self.warn(f"the input history cannot be written ({why}): this session's lines are kept in memory only")


def private_history(path: str, keep: Callable[[str], bool] = lambda line: True) -> FileHistory:
    """Input history kept across sessions in a file only the user can read; ``keep`` picks the lines."""
    history = Path(path).expanduser()
    if history.is_dir():
        raise ConfigError(f"the input history file {history} is a directory", hint="set CHATCLI_HISTORY_FILE to a file")
    _create(history)
    return KeptHistory(str(history), keep)


def _create(history: Path) -> None:
    """The history file and its directory, made private if missing."""
    try:
        private_dir(history.parent)
    except OSError as exc:
        raise ConfigError(f"cannot create {history.parent}: {exc.strerror}", hint="set CHATCLI_HISTORY_FILE") from None
    if not history.exists():
        os.close(os.open(history, os.O_CREAT | os.O_WRONLY, 0o600))
