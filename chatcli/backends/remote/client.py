"""chat on a LangGraph Agent Server (``chat --remote URL``): the connection, its errors, and the server's threads.

langgraph-sdk speaks to the server (a ``langgraph dev``, a self-hosted or a cloud deployment); only the
chatcli.backends.remote modules import it, when --remote is given, so a plain ``chat`` never loads it. Every failure
of a request becomes one line: a server that is down, a key it refuses, an assistant it does not have.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from chatcli import __version__
from chatcli.errors import ChatError, ConfigError, ListenerRefused, ModelError, UsageError
from chatcli.local.loopback import Allowed
from chatcli.provider_table import AGENT_SERVER_KEYS
from chatcli.store import ThreadInfo

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_HEADER = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:\s*(.*)")
# Times a refused connection is tried again (a server restarting), before it is one line.
CONNECT_RETRIES = 1
# The most threads looked through for a start of an id (--thread 1ef4).
PREFIX_SEARCH = 200
_DOWN = "is it running? `langgraph dev --port PORT` serves the graphs of a langgraph.json"  # a server not reached


@dataclass(frozen=True)
class RemoteSpec:
    """Which server, which assistant (a graph id or an assistant's id; None: the server's only one), and how
    to authenticate: ``headers`` as given (--header), ``api_key`` from the environment or ``--header x-api-key``."""

    url: str
    assistant: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    api_key: str | None = None
    # The background reply (chat --bg) these runs are made for: each run is tagged with it, so that the job's own run
    # is found on the server later (chatcli.service.remote_jobs), whatever else runs on the thread.
    job: str | None = None
    # The user named the server in this run (--remote URL), so that it may be another user's listener on this
    # machine (chatcli.local.loopback). Not so a server read back from chat's own records (a thread's binding, a
    # background reply's record), nor one a background reply was started with: the owner check applies to those.
    named: bool = True

    @property
    def label(self) -> str:
        """How chat names what answers: the assistant, or the server."""
        return self.assistant or self.url

    @property
    def binding(self) -> Any:
        """What its threads are bound to in chat's database (chatcli.core.binding): this server and assistant."""
        from chatcli.core.binding import Binding

        return Binding(kind="remote", url=self.url, assistant=self.assistant)

    def again(self, thread_id: str) -> str:
        """The command line that goes on with thread ``thread_id`` of this server's assistant."""
        return str(self.binding.command(thread_id))


def remote_spec(
    url: str, assistant: str | None, headers: list[str], environ: Mapping[str, str], job: str | None = None
) -> RemoteSpec:
    """The server the command line names, checked: an http(s) URL, headers as ``Name: value``; ``job``: the
    background reply the runs are made for."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"--remote takes the server's http(s) URL, got {url[:80]!r}", hint="e.g. http://127.0.0.1:2024"
        )
    pairs, key = [], next((environ[name] for name in AGENT_SERVER_KEYS if environ.get(name)), None)
    for header in headers:
        found = _HEADER.fullmatch(header.strip())
        if found is None:
            raise UsageError(f"--header takes 'Name: value', got {header[:60]!r}")
        if found.group(1).lower() == "x-api-key":
            key = found.group(2)  # the key's own header, which langgraph-sdk sets: it wins over the environment's
        else:
            pairs.append((found.group(1), found.group(2)))
    return RemoteSpec(url.strip().rstrip("/"), assistant or None, tuple(pairs), key, job or None, named=not job)


@contextmanager
def translated(spec: RemoteSpec) -> Iterator[None]:
    """Turn a failed request to the server into the one line it means (ChatErrors pass as they are)."""
    import httpx
    from langgraph_sdk.errors import APIStatusError

    try:
        yield
    except ChatError:
        raise
    except APIStatusError as exc:
        raise status_error(spec, exc.status_code, _said(exc)) from exc
    except httpx.HTTPStatusError as exc:
        raise status_error(spec, exc.response.status_code, exc.response.reason_phrase) from exc
    except httpx.TimeoutException as exc:
        raise ModelError(f"the LangGraph server at {spec.url} did not answer in time", hint=_DOWN) from exc
    except httpx.TransportError as exc:
        listener = ListenerRefused.within(exc)
        if listener is not None:  # another user's, refused at the connection (chatcli.local.loopback)
            raise ModelError(f"{listener}: nothing was sent there", hint=f"chat --remote {spec.url} names it") from exc
        detail = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ModelError(f"cannot reach the LangGraph server at {spec.url}: {detail}", hint=_DOWN) from exc


def _said(exc: Any) -> str:
    """What the server said about a refused request, in one short line."""
    body = getattr(exc, "body", None)
    detail = body.get("detail") or body.get("message") if isinstance(body, dict) else None
    text = detail if isinstance(detail, str) else getattr(exc, "message", "") or str(exc)
    return " ".join(text.split())[:200]


def status_error(spec: RemoteSpec, status: int, said: str) -> ChatError:
    """The line for an HTTP error status of the server."""
    if status in (401, 403):
        how = "the key" if spec.api_key or spec.headers else "the request: no key was sent"
        hint = "set LANGSMITH_API_KEY or LANGGRAPH_API_KEY, or pass --header 'x-api-key: KEY'"
        return ConfigError(f"the LangGraph server at {spec.url} refused {how} ({status})", hint=hint)
    if status in (404, 422) and "assistant" in said.lower():
        return missing_assistant(spec)
    return ModelError(f"the LangGraph server at {spec.url} answered {status}: {said or 'no reason given'}")


class MissingAssistant(UsageError):
    """The server has no assistant (nor graph) of the name given."""


def missing_assistant(spec: RemoteSpec, served: list[str] | None = None) -> ChatError:
    listed = f"it serves {', '.join(served)}" if served else "`chat --remote URL` alone uses its only graph"
    return MissingAssistant(f"the LangGraph server at {spec.url} has no assistant {spec.assistant!r}", hint=listed)


def thread_info(raw: Any, url: str = "the server") -> ThreadInfo:
    """A server's thread as a row of chat's thread list: its first question is its title, its graph its model.
    A thread the server sent wrong is one line (chatcli.backends.remote.data); what its metadata holds is read
    loosely."""
    from chatcli.backends.remote.data import ServerThread, checked
    from chatcli.text import make_title, moment_of

    thread = checked(ServerThread, raw, "a thread", url)
    values = thread.values if isinstance(thread.values, dict) else {}
    listed = values.get("messages")
    messages: list[Any] = listed if isinstance(listed, list) else []
    asked = next((m for m in messages if isinstance(m, dict) and m.get("type") == "human"), None)
    metadata = thread.metadata or {}
    named, graph = metadata.get("title"), metadata.get("graph_id")
    title = make_title(message_text(asked)) if asked else named if isinstance(named, str) else None
    made, used = (when.timestamp() if (when := moment_of(t)) else 0.0 for t in (thread.created_at, thread.updated_at))
    return ThreadInfo(
        thread.thread_id, title or None, made, used, len(messages), graph if isinstance(graph, str) else None
    )


def _assistant(raw: Any, url: str) -> Any:
    from chatcli.backends.remote.data import ServerAssistant, checked

    return checked(ServerAssistant, raw, "an assistant", url)


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a message as the server sends it: a string, or the text blocks of a list."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text") or "")
            for b in content
            if isinstance(b, (str, dict)) and (isinstance(b, str) or b.get("type") == "text")
        )
    return ""


class Remote:
    """An open connection to one server and assistant: runs go to ``assistant_id`` (``graph_id`` is its graph)."""

    def __init__(self, spec: RemoteSpec, client: Any, assistant_id: str, graph_id: str, named: Allowed):
        self.spec, self.client, self.assistant_id, self.graph_id = spec, client, assistant_id, graph_id
        self.named = named  # the server's address, allowed while this is open (chatcli.local.loopback)

    @classmethod
    async def open(cls, spec: RemoteSpec, find: bool = True) -> Remote:
        """Connect and find the assistant (the server's only graph when none is named; with ``find`` False and
        none named, none: the server's threads of every graph); one line if it fails. Another user's listener on
        this machine is refused unless the user named the server in this run (``spec.named``)."""
        import httpx
        from langgraph_sdk.client import LangGraphClient

        import chatcli.providers.tls as tls
        from chatcli.providers.bounded import bounded_client  # each line of what the server streams, bounded

        headers = {"User-Agent": f"chatcli/{__version__}", **dict(spec.headers)}
        if spec.api_key:
            headers["x-api-key"] = spec.api_key
        # langgraph-sdk's own client tries a refused connection 6 times (8 s): a server that is down is said at once.
        transport = httpx.AsyncHTTPTransport(retries=CONNECT_RETRIES, verify=tls.certifi())  # the process's TLS
        timeout = httpx.Timeout(connect=5, read=300, write=300, pool=5)  # langgraph-sdk's
        http = bounded_client(base_url=spec.url, transport=transport, timeout=timeout, headers=headers)
        client = LangGraphClient(http)
        named = Allowed([spec.url] if spec.named else [])  # --remote URL: the user named it, while open
        if spec.assistant and not _UUID.fullmatch(spec.assistant):
            return cls(spec, client, spec.assistant, spec.assistant, named)  # a graph's id: the first run checks it
        if not spec.assistant and not find:
            return cls(spec, client, "", "", named)
        try:
            with translated(spec):
                assistant = await cls._find_assistant(spec, client)
        except BaseException:
            named.close()
            await client.aclose()
            raise
        return cls(spec, client, assistant.assistant_id, assistant.graph_id or "", named)

    async def missing(self) -> ChatError:
        """The line for an assistant the server does not have, naming the graphs it serves (if it says)."""
        try:
            found = [_assistant(a, self.spec.url) for a in await self.client.assistants.search(limit=100)]
            graphs = sorted({str(a.graph_id) for a in found})
        except Exception:  # noqa: BLE001 - the line is said without the list
            graphs = None
        return missing_assistant(self.spec, graphs)

    @staticmethod
    async def _find_assistant(spec: RemoteSpec, client: Any) -> Any:
        """The assistant of the id given (a UUID: a graph's id needs no finding), or the server's only graph's."""
        from langgraph_sdk.errors import NotFoundError

        if spec.assistant:
            try:
                return _assistant(await client.assistants.get(spec.assistant), spec.url)
            except NotFoundError:
                raise missing_assistant(spec) from None
        everything = [_assistant(a, spec.url) for a in await client.assistants.search(limit=100)]
        graphs = sorted({str(a.graph_id) for a in everything})
        if len(graphs) != 1:
            said = f"serves {len(graphs)} graphs: {', '.join(graphs)}" if graphs else "serves no graph"
            raise UsageError(f"the LangGraph server at {spec.url} {said}", hint="choose one with --assistant NAME")
        return everything[0]

    async def threads(self, limit: int | None = None) -> list[ThreadInfo]:
        """The assistant's graph's threads on the server (every graph's without one), most recently updated first."""
        with translated(self.spec):
            graph = {"graph_id": self.graph_id} if self.graph_id else None
            found = await self.client.threads.search(
                metadata=graph, limit=limit or 20, sort_by="updated_at", sort_order="desc"
            )
        return [thread_info(t, self.spec.url) for t in found]

    async def thread(self, wanted: str) -> ThreadInfo:
        """The thread ``wanted`` names (its id, or a unique start of it among the recent ones); one line if none."""
        from langgraph_sdk.errors import NotFoundError

        if _UUID.fullmatch(wanted):
            try:
                with translated(self.spec):
                    return thread_info(await self.client.threads.get(wanted), self.spec.url)
            except ChatError as exc:
                if not isinstance(exc.__cause__, NotFoundError):
                    raise
        else:
            matches = [t for t in await self.threads(PREFIX_SEARCH) if t.thread_id.startswith(wanted.lower())]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise UsageError(f"{wanted!r} starts {len(matches)} threads' ids", hint="give more of the id")
        raise UsageError(f"no thread {wanted!r} on {self.spec.url}", hint="chat threads --remote URL lists them")

    async def aclose(self) -> None:
        self.named.close()
        await self.client.aclose()
