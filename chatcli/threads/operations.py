"""Threads as things: list, show, export, import, delete, search, rename and fork (no model needed)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, List, TypeVar

from chatcli.core.graph_app import GraphApp
from chatcli.core.inputs import check_model_name, check_thread_id, check_utf8, new_thread_id
from chatcli.errors import UsageError
from chatcli.store import SearchHit, Store, ThreadInfo
from chatcli.store.base import Waiting
from chatcli.text import fenced, json_text, local_time, make_title, moment_of
from chatcli.threads.masking import masked
from chatcli.threads.records import export_record, fields_of, message_record, text_of
from chatcli.threads.tree import Node, Tree, read_tree

if TYPE_CHECKING:
    from chatcli.content.attachments import Attachment

T = TypeVar("T")
EXPORT_FORMAT = "chatcli-thread"  # its shape: chatcli.threads.export_format
EXPORT_VERSION = 2  # 2: the thread's times are ISO 8601 strings, as the messages' are


@dataclass
class Transcript:
    """A thread's messages (as stored: plain dicts, see chatcli.threads.records) with what the index knows about it."""

    info: ThreadInfo
    messages: list[Any]
    system: str | None = None
    variables: dict[str, str] = field(default_factory=dict)


def attachment_line(item: dict[str, Any]) -> str:
    """ "shot.png (image/png, 120 KB)" for an attachment's record."""
    from chatcli.content.attachments import readable_size

    return f"{item.get('name')} ({item.get('type')}, {readable_size(int(item.get('size') or 0))})"


def transcript_markdown(t: Transcript) -> str:
    """The thread as a Markdown document: a heading, then each message under its speaker."""
    title = " ".join((t.info.title or t.info.thread_id).split())
    lines = [f"# {title}", "", f"thread `{t.info.thread_id}`" + (f" · {t.info.model}" if t.info.model else "")]
    if t.system:
        lines += ["", f"> system: {t.system}"]
    for message in t.messages:
        record = message_record(message)
        if record["role"] == "tool":
            what = f"{record.get('label') or record['name']}: {record['status']}"
            lines += ["", f"### Tool result ({what})", "", fenced(record["content"])]
            for made in (record.get("view") or {}).get("calls", []):  # its MCP App's calls (chatcli.api.apps)
                call = f"### Tool call from its view: {made.get('label') or made['name']}"
                result = f"### Tool result ({made['status']})"
                arguments = fenced(json.dumps(made.get("arguments"), ensure_ascii=False, indent=2), "json")
                lines += ["", call, "", arguments, "", result, "", fenced(made["content"])]
            continue
        who = "You" if record["role"] == "user" else "Assistant"
        stamp = " · ".join(x for x in (local_time(record.get("created_at")), record.get("model")) if x)
        lines += ["", f"## {who}" + (f" ({stamp})" if stamp else "")]
        if record.get("reasoning"):  # folded: a Markdown viewer shows a "Thinking" line to open
            lines += ["", "<details><summary>Thinking</summary>", "", record["reasoning"].strip(), "", "</details>"]
        if record["content"]:
            lines += ["", record["content"]]
        for item in record.get("attachments", []):
            lines += ["", f"*attached: {attachment_line(item)}*"]
        for call in record.get("tool_calls", []):
            arguments = json.dumps(call["arguments"], ensure_ascii=False, indent=2)
            lines += ["", f"### Tool call: {call['name']}", "", fenced(arguments, "json")]
        if record.get("interrupted"):
            lines += ["", f"*[answer incomplete: {record['interrupted']}]*"]
    return "\n".join(lines) + "\n"


def exported(t: Transcript) -> dict[str, Any]:
    """A thread's transcript as chat exports it (``chat export --format json``): re-importable, attachments included."""
    head = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, **t.info.as_dict(), "system": t.system}
    return {**head, "vars": t.variables, "messages": [export_record(m) for m in t.messages]}


async def export_text(threads: Any, thread_id: str, fmt: str, at: str | None = None) -> str:
    """The thread as ``chat export`` and /export write it: Markdown (``md``), or JSON that ``chat import`` reads back
    (``json``); ``at``: the branch to that node of its tree."""
    branch = (at,) if at is not None else ()  # (an Agent Server's threads have no branches here)
    if fmt == "json":
        return json_text(await threads.export_json(thread_id, *branch), ensure_ascii=False, indent=1) + "\n"
    if fmt == "md":
        return transcript_markdown(await threads.shown(thread_id, *branch))
    raise UsageError(f"unknown format {fmt!r}: use md or json")


def matching(info: ThreadInfo, messages: list[Any], phrases: list[list[str]]) -> List[SearchHit]:
    """The hits of ``phrases`` (chatcli.store.fts.query_phrases) among a thread's ``messages`` (plain dicts), in
    order, each with its turn, its time and FTS5's snippet."""
    from chatcli.store.fts import holds, snippet
    from chatcli.store.index import CLOSE, OPEN, marked

    hits, turn = [], 0
    for message in messages:
        m = fields_of(message)
        turn += m.get("type") == "human"
        body = text_of(m.get("content"))
        if m.get("type") in ("human", "ai", "tool") and holds(body, phrases):
            when = moment_of((m.get("response_metadata") or {}).get("created_at"))
            found = snippet(body, phrases, open_mark=OPEN, close_mark=CLOSE)
            stamp = when.timestamp() if when else None
            hit = SearchHit(info.thread_id, info.title, max(turn, 1), str(m["type"]), found, 0, stamp)
            hits.append(marked(hit))
    return hits


class Threads:
    """Operations on the threads of one database."""

    def __init__(self, app: GraphApp | None, store: Store, foreign: bool = False, settings: Any = None):
        from chatcli.providers.base import known_secrets

        self.app = app  # the graph, for import and fork only (None: opened without it)
        self.store = store
        self.foreign = foreign  # the graph is not chat's own (chat --graph): it keeps only the messages
        # Credentials no transcript or export shows, though a tool's output or a pasted line holds one.
        self.secrets = known_secrets(settings) if settings is not None else ()
        self.settings = settings  # chatcli.config.Settings, when opened with them: the prices chat stats uses

    @property
    def graph(self) -> GraphApp:
        """The graph threads are written through (import, fork); opened without it, a programming error."""
        if self.app is None:
            raise RuntimeError("these threads were opened without their graph: import and fork need it")
        return self.app

    async def list(self, limit: int | None = None) -> list[ThreadInfo]:
        """Threads, most recently used first (a title holding a known credential masked)."""
        return masked(await self.store.index.list(limit), self.secrets)

    async def waiting(self) -> List[Waiting]:
        """The threads that wait for the user (chat inbox), the longest waiting first; a known credential in a
        title or in what is asked (a call's arguments) masked."""
        return masked(await self.store.index.waiting(), self.secrets)

    async def info(self, thread_id: str) -> ThreadInfo | None:
        """What the index knows of a thread (title, times, size, model), or None."""
        return await self.store.index.get(thread_id)

    async def transcript(self, thread_id: str, at: str | None = None) -> Transcript:
        """The whole thread (``at``: the branch from its first question to that node of its tree), or a UsageError
        naming the unknown id."""
        check_thread_id(thread_id)
        info = await self.store.index.get(thread_id)
        values = await self.values(thread_id, info)
        messages = await self.branch(thread_id, at) if at is not None else list(values.get("messages") or [])
        if info is None and not messages:  # (a thread on an Agent Server was said by chatcli.service.chat.Chat.find)
            raise UsageError(f"no thread {thread_id!r}", hint="`chat threads` lists them")
        if info is None:
            now = time.time()
            info = ThreadInfo(thread_id, None, now, now, len(messages), None)
        return Transcript(info, messages, values.get("system"), dict(values.get("vars") or {}))

    async def values(self, thread_id: str, info: ThreadInfo | None) -> dict[str, Any]:
        """The thread's latest state as plain data (messages as dicts, system, vars): as stored, or, when its latest
        checkpoint holds none of the messages the index counts (a graph that keeps them as deltas, as deepagents
        does), the messages as LangGraph rebuilds them (chatcli.threads.deltas)."""
        values = await self.store.index.head(thread_id) or {}
        if not values.get("messages") and info is not None and info.message_count:
            from chatcli.threads.deltas import rebuilt_messages

            values["messages"] = await rebuilt_messages(self.store, thread_id, self.app if self.foreign else None)
        return values

    async def shown(self, thread_id: str, at: str | None = None) -> Transcript:
        """The thread as shown or exported: ``transcript`` with every known credential masked."""
        return masked(await self.transcript(thread_id, at), self.secrets)

    async def export_json(self, thread_id: str, at: str | None = None) -> dict[str, Any]:
        """A re-importable export of the thread (attachments included, base64), known credentials masked."""
        return exported(await self.shown(thread_id, at))

    async def branch(self, thread_id: str, at: str) -> List[Any]:
        """The messages of the branch from the thread's first question to node ``at`` of its tree (a number or a
        label), as plain data."""
        tree = await self.tree(thread_id)
        node = _node(tree, at)
        if tree.stored:
            return await self.store.index.branch(thread_id, node.end)
        return [m.model_dump() for m in await self._branch_messages(tree, node)]

    async def _branch_messages(self, tree: Tree, node: Node) -> List[Any]:
        """The branch to ``node`` as LangChain's messages, read from the checkpoint it ended at."""
        point = tree.start_of(node)
        if point is None:
            raise UsageError(f"node {node.number} of thread {tree.thread_id} has no checkpoint to read it from")
        where = {"thread_id": tree.thread_id, "checkpoint_id": point.checkpoint_id}
        state = await self.graph.aget_state({"configurable": where})
        return list(state.values.get("messages") or [])[: node.end_pos + 1]

    async def import_json(self, data: Any) -> str:
        """Store an exported thread as a new thread; return its id. A file is not the user's own typing: its
        questions' files are checked as any question's are (each a text or an image within 20 MB, told by its bytes,
        at most 16 a question, 40 MB together) and its model's name as a door's, before anything is written."""
        from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

        from chatcli.content.attachments import question_message
        from chatcli.threads.export_format import check_export

        if isinstance(data, dict) and data.get("format") != EXPORT_FORMAT:
            raise UsageError(f'not a chatcli thread export (expected "format": "{EXPORT_FORMAT}")')
        export = check_export(data)  # the whole file, before anything is written
        if export.model is not None:
            _in_export("model", check_model_name, export.model)
        messages: list[BaseMessage] = []
        for i, record in enumerate(export.messages):
            meta = record.model_dump(include={"created_at", "interrupted", "label", "seconds"}, exclude_none=True)
            if record.model is not None:
                meta["model_name"] = record.model
            if record.role == "tool":
                meta["outcome"] = outcome = record.status or "ok"
                status = "success" if outcome == "ok" else "error"
                ids = {"tool_call_id": record.tool_call_id or "", "name": record.name or ""}
                message: BaseMessage = ToolMessage(record.content, status=status, response_metadata=meta, **ids)
            elif record.role == "user":
                files = _imported_files(f"messages[{i}]", record.attachments or [])
                message = question_message(record.content, files, response_metadata=meta)
            else:
                calls = [{"id": c.id, "name": c.name, "args": c.arguments} for c in record.tool_calls or []]
                thought = {"reasoning_content": record.reasoning} if record.reasoning else {}
                message = AIMessage(record.content, tool_calls=calls, additional_kwargs=thought, response_metadata=meta)
            messages.append(message)
        new_id = new_thread_id()
        values = {"messages": messages, "system": export.system, "vars": export.vars or {}}
        await self._write_thread(new_id, values, export.title or messages[0].text, export.model)
        return new_id

    async def fork(self, thread_id: str, at: int | str, new_id: str | None = None) -> str:
        """Start a new thread holding the branch of ``thread_id`` that ends at node ``at`` of its tree (a number or a
        label; for a thread never rewound, its first ``at`` turns); the original is untouched."""
        t = await self.transcript(thread_id)
        tree = await self.tree(thread_id)
        node = _node(tree, str(at))
        kept = [m.model_copy() for m in await self._branch_messages(tree, node)]
        new_id = check_thread_id(new_id) if new_id else new_thread_id()
        if await self.store.index.get(new_id) is not None:
            raise UsageError(f"thread {new_id!r} already exists")
        values = {"messages": kept, "system": t.system, "vars": t.variables}
        await self._write_thread(new_id, values, f"{t.info.title or thread_id} (fork @{at})", t.info.model)
        # What answers it (its model, its graph) answers the fork.
        if (binding := await self.store.index.binding(thread_id)) is not None:
            await self.store.index.bind(new_id, binding)
        return new_id

    async def _write_thread(self, thread_id: str, values: dict[str, Any], title: str, model: str | None) -> None:
        from chatcli.backends.own.graph import MODEL_NODE

        config = {"configurable": {"thread_id": thread_id}}
        if self.foreign:
            from chatcli.backends.own.rewind import write_values

            await write_values(self.graph, config, {"messages": values["messages"]})
        else:
            await self.graph.aupdate_state(config, values, as_node=MODEL_NODE)
        where = getattr(self.settings, "workdir", None)  # the door's directory, when opened with its settings
        await self.store.index.touch(thread_id, title, len(values["messages"]), model, where)

    async def delete(self, thread_id: str, on_wait: Any = None) -> None:
        """Remove the thread's checkpoints, messages, index row and kept files, for good.

        A turn running on it (in any process) is waited for, ``on_wait()`` said once: a delete in the
        middle of an answer would have the answer's end write half the thread back.
        """
        import shutil

        from chatcli.tools.kept_files import folder

        await self.transcript(thread_id)  # unknown ids are an error, not a silent no-op
        async with self.store.thread_lock(thread_id, on_wait):
            await self.store.delete_thread(thread_id)
        shutil.rmtree(folder(thread_id), ignore_errors=True)  # its tools' files: a later thread of its name starts bare

    async def search(self, text: str, limit: int = 20) -> List[SearchHit]:
        if not text.strip():
            raise UsageError("nothing to search for")
        check_utf8(text, "the search")
        # Undone and replaced messages stay stored (nodes are immutable): keep only live ones.
        hits = await self.store.index.search(text, limit * 4)
        live = {tid: await self.store.index.live_nodes(tid) for tid in dict.fromkeys(h.thread_id for h in hits)}
        kept = [h for h in hits if (nodes := live[h.thread_id]) is None or h.node in nodes][:limit]
        kept += (await self._rebuilt_hits(text))[: limit - len(kept)]
        numbered = await self.store.index.counted(kept)  # numbering costs a query a hit: only those shown
        # The threads best match first; a thread's hits in the order they were said, as its transcript has them.
        threads = list(dict.fromkeys(h.thread_id for h in numbered))
        # (A rebuilt thread's hits, node 0, are in the order said already: its messages may have no times.)
        ordered = sorted(numbered, key=lambda h: (threads.index(h.thread_id), h.turn, (h.node and h.created_at) or 0.0))
        return masked(ordered, self.secrets)  # a key found (or cut at the snippet's edge) shown as ***

    async def _rebuilt_hits(self, text: str) -> List[SearchHit]:
        """The messages matching ``text`` in the threads whose messages only LangGraph can read whole (a graph's
        that keeps them as deltas: the search index never held them), searched as the index searches."""
        from chatcli.core.binding import Binding
        from chatcli.store.fts import query_phrases

        phrases = query_phrases(text)
        hits: List[SearchHit] = []
        for info in await self.store.index.list() if phrases else []:
            bound = Binding.from_json(await self.store.index.binding(info.thread_id))
            if not info.message_count or bound is None or bound.kind != "graph":
                continue  # chat's own threads, and a server's, are never kept as deltas here
            head = await self.store.index.head(info.thread_id) or {}
            if not head.get("messages"):
                hits += matching(info, (await self.values(info.thread_id, info))["messages"], phrases)
        return hits

    async def tree(self, thread_id: str) -> Tree:
        """The thread's tree: every question asked on it and every answer it had (chatcli.threads.tree)."""
        check_thread_id(thread_id)
        if await self.store.index.get(thread_id) is None and await self.store.index.tree_rows(thread_id) is None:
            await self.transcript(thread_id)  # a thread on a server, or none: said in one line
        return await read_tree(thread_id, self.store, self.app)

    async def rename(self, thread_id: str, title: str) -> None:
        if not title.strip():
            raise UsageError("the title is empty")
        check_utf8(title, "the title")
        await self.transcript(thread_id)
        if not await self.store.index.set_title(thread_id, title):
            await self.store.index.touch(thread_id, make_title(title, 200), 0, None)
            await self.store.index.set_title(thread_id, title)


def _node(tree: Tree, at: str) -> Node:
    """The node ``at`` names in ``tree``, or a UsageError saying what there is."""
    try:
        return tree.find(at)
    except LookupError as exc:
        raise UsageError(str(exc), hint=f"chat tree {tree.thread_id} shows the nodes") from None


def _in_export(where: str, check: Callable[[T], Any], value: T) -> Any:
    """``check(value)``; its refusal said as the export's, naming where in the file."""
    try:
        return check(value)
    except UsageError as exc:
        raise UsageError(f"not a valid thread export: {where}: {exc.message}") from None


def _imported_files(where: str, items: list[Any]) -> list[Attachment]:
    """A stored question's files, each read as ``-a`` reads one (chatcli.content.attachments.from_bytes: a text or an
    image, told by its bytes, within 20 MB). A text keeps the type it was stored with (a page's text/markdown); a type
    that is no text's (an "image" that is none) is not taken. How many a question held is not limited here: a thread
    stored before a question's files were limited imports whole."""
    import base64

    from chatcli.content.attachments import from_bytes

    files = []
    for j, item in enumerate(items):
        found = _in_export(f"{where}.attachments[{j}]", lambda a: from_bytes(a.name, base64.b64decode(a.data)), item)
        kept = item.type if not found.is_image and _text_type(item.type) else found.mime
        files.append(replace(found, mime=kept, url=str(item.url or "")))
    return files


def _text_type(mime: str) -> bool:
    """A MIME type a text may have been stored with (text/markdown, application/json): short, plain, no image's."""
    return len(mime) <= 100 and mime.isascii() and mime.isprintable() and "/" in mime and not mime.startswith("image/")
