"""What the libraries write to stderr passes chat's one writer too (chatcli.text.say): log records
(an MCP library's, uvicorn's for ``chat serve``), Python's warnings, and an error nothing caught.

Their text can hold a server's words (an error message, a request's path), so it is shown with its
control characters made visible, as every other line chat writes.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
import warnings
from typing import Any

from chatcli.text import say


def _told(text: str, file: Any = None) -> None:
    """``text`` on ``file`` (the stderr of the moment: chat's own, or a test's), neutralised; a closed terminal is told
    nothing."""
    with contextlib.suppress(OSError, ValueError):
        say(file or sys.stderr, text)


class StderrLines(logging.Handler):
    """Log records as lines on the stderr of the moment, neutralised."""

    def emit(self, record: logging.LogRecord) -> None:
        _told(self.format(record) + "\n")


# uvicorn's logging for ``chat serve``: its warnings and errors on stderr, through StderrLines.
_TO_STDERR = {"handlers": ["stderr"], "level": "WARNING", "propagate": False}
SERVE_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "chat serve: %(message)s"}},
    "handlers": {"stderr": {"()": StderrLines, "formatter": "line"}},
    "loggers": {"uvicorn": _TO_STDERR, "uvicorn.error": {"level": "WARNING"}, "uvicorn.access": _TO_STDERR},
}


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    _told(warnings.formatwarning(message, category, filename, lineno, line), file)


def _uncaught(kind: Any, value: Any, tb: Any) -> None:
    _told("".join(traceback.format_exception(kind, value, tb)))


def _uncaught_in_thread(args: Any) -> None:
    if args.exc_type is not SystemExit:
        _uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def install() -> None:
    """Route the libraries' stderr lines through chat's writer, for this process."""
    logging.lastResort = StderrLines(logging.WARNING)  # what logging does with a record no handler took
    warnings.showwarning = _show_warning
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread
