"""What a failure means to the user: the error a turn's failure stands for, and each failure's one line and exit code.

The command line, the prompt and the JSON outputs all say a failure through ``describe``, so that
the line on stderr, the prompt's error line and the JSON error object agree, and never show a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatcli.backends.own.spending import LimitReached
from chatcli.config import Settings
from chatcli.errors import ChatError, ExitStatus, Interrupted, ListenerRefused
from chatcli.providers import provider_of
from chatcli.providers.base import NAME_IT


@dataclass(frozen=True)
class Failure:
    """One failure as the user is told it: ``line`` has no "chat: error: " prefix; ``kind`` says how to show it.

    Kinds: "interrupted" (Ctrl-C or a stop signal), "broken_pipe" (the reader of stdout left),
    "output" (stdout cannot be written), "chat_error" (a ChatError), "unexpected" (anything else). ``limit``: the
    spending limit's setting that refused a model call ("max_cost_answer", "max_cost_thread", "max_cost_day" or
    "unpriced"), for a ``LimitReached`` alone.
    """

    line: str
    exit_status: int
    kind: str
    limit: str | None = None

    def object(self) -> dict[str, Any]:
        """The error object every machine-readable door gives (``--json``'s ``error``, chat serve's, chat compact
        --json's): ``{"message": the line, "exit_code": the command line's}``, and ``"limit"``, the setting's name,
        when a spending limit refused the call."""
        limit = {"limit": self.limit} if self.limit is not None else {}
        return {"message": self.line, "exit_code": int(self.exit_status), **limit}


def translate(
    exc: Exception, settings: Settings, mid_answer: bool = False, model: str | None = None, own: bool = True
) -> Exception:
    """Map a failure during a turn (asked of ``model``, else the settings'; ``own``: a model chat built, not a
    graph's) to the user-facing error it means, or return it unchanged."""
    from chatcli.backends.own.model import describe_error
    from chatcli.local.policy import stopped

    if isinstance(exc, ChatError):
        return exc  # already said in the user's terms (the local server failing to start again, say)
    # A local model server that died shows up as a dropped or refused connection: say what happened.
    trouble = None if isinstance(exc, TimeoutError) else provider_of(model or settings.model)[0].classify(exc)
    wait = 1.0 if trouble is not None and trouble.kind == "connection" else 0.0
    gone = stopped(settings, "during the answer" if mid_answer else "before answering", wait=wait)
    if gone is not None:
        gone.__cause__ = exc
        return gone
    described = describe_error(exc, settings, mid_answer=mid_answer, spec=model, own=own)
    return described if described is not None else exc


def describe(exc: BaseException, settings: Settings | None = None) -> Failure:
    """The one line and exit code of ``exc``, as every output says it (never a key or a password)."""
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", ExitStatus.INTERRUPTED, "interrupted")
    if isinstance(exc, Interrupted):
        return Failure(str(exc), exc.exit_status, "interrupted")
    if isinstance(exc, LimitReached):
        return Failure(str(exc), exc.exit_status, "chat_error", exc.limit)
    if isinstance(exc, ChatError):
        return Failure(str(exc), exc.exit_status, "chat_error")  # redacted where it was raised
    listener = ListenerRefused.within(exc)  # whatever connection it was (chatcli.local.loopback)
    if listener is not None:
        return Failure(f"{listener}: nothing was sent there ({NAME_IT})", ExitStatus.CONFIG, "chat_error")
    if isinstance(exc, BrokenPipeError):
        return Failure("the reader of the output left", ExitStatus.BROKEN_PIPE, "broken_pipe")
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
        return Failure(f"cannot write the output: {exc.strerror}", ExitStatus.ERROR, "output")
    from chatcli.backends.own.model import redact

    detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    line = redact(f"unexpected error: {detail} (run with --debug for details)", settings or Settings())
    return Failure(line, ExitStatus.ERROR, "unexpected")


def traceback_text(exc: BaseException, settings: Settings | None = None) -> str:
    """The whole traceback, for --debug (never a key or a password)."""
    import traceback

    from chatcli.backends.own.model import redact

    return redact("".join(traceback.format_exception(exc)), settings or Settings())
