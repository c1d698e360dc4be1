"""The strict objects `chat serve` takes (``Strict``), JSON as the command line writes it, and every error `chat
serve` answers as the documented object,
``{"error": {"message", "exit_code"}}`` (and ``"limit"`` when a spending limit refused a model call: 402).

FastAPI's own answers (a request body that does not validate: 422 ``{"detail": [...]}``; a path
that is no route: 404 ``{"detail": "Not Found"}``) become that object too: a body that does not
validate is a usage error (400), as a wrong flag is at the command line, naming the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as _StarletteJSON
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from chatcli.errors import AlreadyDone, ChatError, ExitStatus, NoThread
from chatcli.text import json_text


class Strict(BaseModel):
    """An object of the API: a misspelt field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class JSONResponse(_StarletteJSON):
    """JSON as the command line writes it: what a terminal could act on (C1 controls, U+2028...) as \\uXXXX."""

    def render(self, content: Any) -> bytes:
        return json_text(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def error(message: str, status: int, headers: dict[str, str] | None = None) -> Any:
    """The error object of a refused request (a usage error's exit code, 2)."""
    return JSONResponse({"error": {"message": message, "exit_code": 2}}, status, headers)


# The HTTP status of each exit code (a turn's failure, a refused request): the rest are 500. A spending limit that
# refused a model call is 402 Payment Required: not 429, which says "try again later" (chat serve has no rate limit
# of its own, and a limit of the answer's or the thread's is not lifted by waiting), nor 403 (the guard's: who asks).
STATUS: dict[int, int] = {ExitStatus.USAGE: 400, ExitStatus.MODEL: 502, ExitStatus.STORE: 503, ExitStatus.LIMIT: 402}


def status_of(exc: BaseException, exit_status: int) -> int:
    """The HTTP status of a failure: 404 for a thread that does not exist, 409 for what was done already, else
    its exit code's."""
    return 404 if isinstance(exc, NoThread) else 409 if isinstance(exc, AlreadyDone) else STATUS.get(exit_status, 500)


def failed(exc: BaseException, settings: Any) -> Any:
    """The response to a failure: the one error object (``Failure.object``, as ``--json`` has it) and its status."""
    from chatcli.backends.own.failures import describe

    failure = describe(exc, settings)
    return JSONResponse({"error": failure.object()}, status_of(exc, failure.exit_status))


def field_problem(errors: list[dict[str, Any]]) -> str:
    """The first validation error in words: "body.content: Field required", "body.modle: not a field"."""
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "the body"
    if first.get("type") == "extra_forbidden":
        return f"{where}: not a field of this request (a typo?)"
    return f"{where}: {first.get('msg', 'not valid')}"


def install(app: FastAPI, settings: Any) -> None:
    """Make chat's failures and FastAPI's own errors the documented error object."""

    @app.exception_handler(ChatError)
    async def chat_error(_request: Request, exc: ChatError) -> Any:
        return failed(exc, settings)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> Any:
        return error(field_problem(list(exc.errors())), 400)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> Any:
        return error(str(exc.detail), exc.status_code)
