"""What a door asks the service for: which thread (``Opening``, as ``Chat.find`` decides it) and how to set it up
(``ThreadSetup``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chatcli.service.answerer import OWN, Answerer

if TYPE_CHECKING:
    from chatcli.backends.own.roles import Role
    from chatcli.content.attachments import Attachment
    from chatcli.core.binding import Binding
    from chatcli.store import ThreadInfo


@dataclass(frozen=True)
class Opening:
    """The thread a door opens, as ``Chat.find`` decided: ``info`` is its index row when it exists, None when it is
    new; ``model`` the model it goes on with (the door's, else the one stored with it; None: the settings');
    ``said`` the line to say once when going on changes what answers it."""

    thread_id: str
    info: ThreadInfo | None = None
    binding: Binding | None = None  # what answers it, as stored with it (None: new, or stored before bindings)
    elsewhere: bool = False  # kept by a LangGraph server, not in chat's database (``info`` is the server's)
    model: str | None = None
    said: str | None = None


@dataclass(frozen=True)
class ThreadSetup:
    """How a door sets the thread up (the command line from its flags, a request from its fields): ``Chat.thread``
    applies it."""

    system: str | None = None  # --system
    variables: dict[str, str] = field(default_factory=dict)  # --var NAME=VALUE
    role: Role | None = None  # --role, read already
    model: str | None = None  # -m: it wins over the thread's role's model
    temperature: str | None = None  # --temperature: it wins over the role's
    attach: tuple[str, ...] = ()  # -a FILE, as given
    attachments: tuple[Attachment, ...] = ()  # those files (and an image on stdin), read and checked
    latest: bool = False  # --continue
    at: str | None = None  # --at NODE: the thread goes on from this node of its tree (a number or a label)
    new_thread: str | None = None  # --new-thread ID
    announce: bool = False  # the prompt names the new thread once it exists (the banner could not)
    answerer: Answerer = OWN  # what answers: chat's own graph, --graph's or --remote's (chatcli.service.answerer)
    resume: Any = None  # --resume: the value the thread's pending interrupts get
    again: bool = False  # --again: the thread's last question answered again (as /retry)
    rebind: bool = False  # --rebind: a thread bound to another graph (or to chat's own) is handed to this one
