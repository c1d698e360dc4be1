"""What chat's events and stored messages are in the Agent Client Protocol's words: ``session/update`` notifications,
a prompt's stop reason and usage, the options of a permission request. Plain mapping, no I/O.
"""

from __future__ import annotations

from typing import Any, Iterator, Literal

from acp import schema
from acp.helpers import start_tool_call, text_block, tool_content, tool_terminal_ref, update_tool_call
from acp.schema import AgentMessageChunk, AgentThoughtChunk, UserMessageChunk

from chatcli.core.events import ToolCall as Call
from chatcli.core.events import TurnResult

StopReason = Literal["end_turn", "max_tokens", "max_turn_requests", "refusal", "cancelled"]
Status = Literal["pending", "in_progress", "completed", "failed"]
Kind = Literal["read", "edit", "delete", "move", "search", "execute", "think", "fetch", "switch_mode", "other"]

# The kind of each of chat's built-in tools (chatcli.tools.builtin); any other tool's is "other".
KINDS: dict[str, Kind] = {"shell": "execute", "read_file": "read", "list_directory": "search"}
# A tool result's status in chat's words (chatcli.core.events.ToolResult) as a tool call's in ACP's.
STATUSES: dict[str, Status] = {"ok": "completed"}
# The arguments that name a file or directory, for the editor to show and open.
PATH_KEYS = ("path", "file", "filename", "file_path", "directory", "dir")

ALLOW_ONCE, ALLOW_ALWAYS, REJECT_ONCE, REJECT_ALWAYS = "allow_once", "allow_always", "reject_once", "reject_always"
# The answers a permission request offers: the prompt's y, a, n, and "never" for the rest of the session.
OPTIONS = [
    schema.PermissionOption(option_id=ALLOW_ONCE, name="Allow", kind="allow_once"),
    schema.PermissionOption(option_id=ALLOW_ALWAYS, name="Allow always (this session)", kind="allow_always"),
    schema.PermissionOption(option_id=REJECT_ONCE, name="Reject", kind="reject_once"),
    schema.PermissionOption(option_id=REJECT_ALWAYS, name="Reject always (this session)", kind="reject_always"),
]
# A graph's human-in-the-loop request allows no "always" of chat's: it is asked each time.
ONCE_OPTIONS = [OPTIONS[0], OPTIONS[2]]


# The ends of a turn the model chose that the protocol has a stop reason for (the others are errors, as elsewhere).
STOP_REASONS: dict[str, StopReason] = {"cancelled": "cancelled", "length": "max_tokens", "content_filter": "refusal"}
STOPPED_BY_MODEL = ("length", "content_filter")


def stop_reason(result: TurnResult) -> StopReason:
    """Why a turn ended, as a prompt's response says it."""
    return STOP_REASONS.get(result.interrupted or "", "end_turn")


def usage(result: TurnResult) -> schema.Usage | None:
    """The tokens of a turn (every model call of it), when the server counted them."""
    try:
        return schema.Usage.model_validate(result.usage or {}, strict=True)
    except ValueError:  # none counted, or not as counts (pydantic's ValidationError is one)
        return None


def locations(arguments: Any) -> list[schema.ToolCallLocation] | None:
    """The files a call's arguments name, for the editor to follow."""
    if not isinstance(arguments, dict):
        return None
    found = [arguments[key] for key in PATH_KEYS if isinstance(arguments.get(key), str) and arguments[key]]
    return [schema.ToolCallLocation(path=path) for path in found] or None


def call_started(call: Call, status: Status = "pending") -> schema.ToolCallStart:
    """A call announced: titled by what the user knows it by, and for a command the command itself."""
    kind, args, name = KINDS.get(call.name, "other"), call.arguments, call.label or call.name
    command = args.get("command") if isinstance(args, dict) else None
    title = f"{name}: {command}" if isinstance(command, str) and command else name
    return start_tool_call(call.id, title, kind=kind, status=status, locations=locations(args), raw_input=args)


def call_asked(call: Call) -> schema.ToolCallUpdate:
    """The call a permission request names, as its ``tool_call`` update announced it."""
    return schema.ToolCallUpdate.model_validate(call_started(call).model_dump(exclude={"session_update"}))


def call_running(call_id: str, terminal_id: str | None = None) -> schema.ToolCallProgress:
    """A call running (its command in the editor's terminal ``terminal_id``: the card shows the terminal)."""
    shown = [tool_terminal_ref(terminal_id)] if terminal_id else None
    return update_tool_call(call_id, status="in_progress", content=shown)


def call_ended(call_id: str, status: str, content: str, terminal: str | None = None) -> schema.ToolCallProgress:
    """A call's end: its result (a command run in an editor's terminal keeps the terminal, which shows it)."""
    shown: list[Any] | None = [tool_content(text_block(content))] if content else None
    shown = [tool_terminal_ref(terminal)] if terminal is not None else shown
    ended = STATUSES.get(status, "failed")
    return update_tool_call(call_id, status=ended, content=shown, raw_output={"status": status, "content": content})


def message(text: str, message_id: str | None = None) -> AgentMessageChunk:
    """A piece of the agent's message ``message_id`` (every chunk of one message carries the same id)."""
    return AgentMessageChunk(session_update="agent_message_chunk", content=text_block(text), message_id=message_id)


def thought(text: str, message_id: str | None = None) -> AgentThoughtChunk:
    return AgentThoughtChunk(session_update="agent_thought_chunk", content=text_block(text), message_id=message_id)


def new_id() -> str:
    """A message's id: opaque and unique (ACP's message ids are the agent's to make)."""
    import uuid

    return str(uuid.uuid4())


def replayed(records: list[dict[str, Any]]) -> Iterator[Any]:
    """A stored thread (``chatcli.threads.records.message_record``s) as the updates a ``session/load`` replays: each
    question, each answer with its thinking, and each tool call with its final status and result. Each message
    carries its id (the stored message's ``message_id``, the same at every load; its thinking is a message of its
    own)."""
    ended = {r.get("tool_call_id"): r for r in records if r.get("role") == "tool"}
    for number, record in enumerate(records):
        role, text = record.get("role"), record.get("content") or ""
        ident = str(record.get("message_id") or f"message-{number + 1}")
        if role == "user":
            names = [item.get("name") for item in record.get("attachments") or []]
            shown = text + "".join(f"\n[attached: {name}]" for name in names if name)
            yield UserMessageChunk(session_update="user_message_chunk", content=text_block(shown), message_id=ident)
        elif role == "assistant":
            if record.get("reasoning"):
                yield thought(record["reasoning"], f"{ident}-thinking")
            if text:
                yield message(text, ident)
            for call in record.get("tool_calls") or []:
                name = call.get("name") or ""
                asked = Call(call.get("id") or "", name, name, None, call.get("arguments"))
                yield call_started(asked, "in_progress")
                if (result := ended.get(call.get("id"))) is not None:
                    yield call_ended(asked.id, result.get("status") or "ok", result.get("content") or "")
