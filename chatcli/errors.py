"""Errors a user can see, each with the exit code the command ends with."""

from __future__ import annotations

from collections.abc import Iterator
from enum import IntEnum


class ExitStatus(IntEnum):
    """Exit codes of the ``chat`` command (documented in docs/usage.md)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    MODEL = 4
    STORE = 5
    LIMIT = 6  # a spending limit (max_cost_answer, _thread, _day) refused a model call before it was sent
    HANGUP = 129  # 128 + SIGHUP: the terminal closed
    BROKEN_PIPE = 141  # 128 + SIGPIPE: whoever read the output left
    INTERRUPTED = 130  # 128 + SIGINT: Ctrl-C
    TERMINATED = 143  # 128 + SIGTERM: kill


class ChatError(Exception):
    """An error with a one-line message meant for the user."""

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(ChatError):
    """The command line or the input is wrong."""

    exit_status = ExitStatus.USAGE


class AlreadyDone(UsageError):
    """What the request asks was done already, by another request (an approval answered twice)."""


class Refused(UsageError):
    """A question a UserPromptSubmit hook refused as it is: nothing of it was sent or kept."""


class NoThread(UsageError):
    """A door asked for a thread that must exist, and none has that id (serve's 404, an editor's "not found")."""


class ConfigError(ChatError):
    """A setting is missing or invalid."""

    exit_status = ExitStatus.CONFIG


class ModelError(ChatError):
    """The model endpoint failed or refused the request."""

    exit_status = ExitStatus.MODEL


class StoreError(ChatError):
    """The conversation database cannot be opened or written."""

    exit_status = ExitStatus.STORE


class Interrupted(ChatError):
    """A signal stopped the command (Ctrl-C, kill, a closed terminal); what arrived is kept."""

    _WORDS = {1: "hung up (the terminal closed)", 2: "interrupted", 15: "terminated"}

    def __init__(self, signum: int):
        super().__init__(self._WORDS.get(signum, f"stopped by signal {signum}"))
        self.signum = signum
        self.exit_status = 128 + signum  # type: ignore[assignment]


class ListenerRefused(ConnectionRefusedError):
    """A connection to another user's listener on this machine, refused before it was made (chatcli.local.loopback).

    A ConnectionRefusedError, so every client treats it as the refused connection it is; ``within`` finds it in the
    error a client made of it, for the one line the user sees."""

    def __init__(self, host: str, port: int, uids: set[int]):
        self.host, self.port, self.uids = host, port, sorted(uids)
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        super().__init__(f"{where} is another user's listener on this machine (uid {', '.join(map(str, self.uids))})")

    @staticmethod
    def within(exc: BaseException) -> "ListenerRefused | None":
        """The ListenerRefused ``exc`` is, or was raised from (a client wraps a refused connection in its own error),
        or one among the attempts of a connection made to each of an address's forms (an error group, as anyio raises
        when every attempt failed)."""
        for each in causes(exc):
            if isinstance(each, ListenerRefused):
                return each
            for inner in each.exceptions if isinstance(each, BaseExceptionGroup) else ():
                if (found := ListenerRefused.within(inner)) is not None:
                    return found
        return None


def causes(exc: BaseException) -> "Iterator[BaseException]":
    """``exc`` and each error it was raised from (its cause, else its context), each once: where a client's own
    error, made of another's, says what happened underneath."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
