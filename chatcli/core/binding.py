"""What answers a thread, kept with it: chat's own graph on a model, a graph of the user's, or a deployed graph.

A thread's binding is stored beside it (``chatcli.store.index.ThreadIndex.bind``) at every turn, so that
``chat -t ID`` and ``chat -c`` go on with what answered it: the model chosen with ``-m`` or ``/model``, the
graph named with ``--graph`` (by its spec and the directory it was named in). ``reconcile`` is the one place
the command line's choice meets the thread's: it fills in what was not given, says a change once, and refuses
in one line a thread handed to another graph unless ``--rebind`` asks for it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from chatcli.errors import UsageError

Kind = Literal["chat", "graph", "remote"]


@dataclass(frozen=True)
class Binding:
    """What answers a thread. ``chat``: chat's own graph, on ``model`` when one was chosen for the thread (None:
    the settings' default or its role's); ``graph``: the graph ``--graph graph`` named in the directory ``cwd``;
    ``remote``: the assistant ``assistant`` of the Agent Server at ``url``."""

    kind: Kind = "chat"
    model: str | None = None
    graph: str | None = None
    cwd: str | None = None
    url: str | None = None
    assistant: str | None = None

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Binding | None:
        """The binding stored as ``text``; None for none, or for one this version cannot read (it is rewritten at
        the next turn)."""
        try:
            data = json.loads(text or "")
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("kind") not in ("chat", "graph", "remote"):
            return None
        text_of = {k: v for k, v in data.items() if isinstance(v, str)}.get
        return cls(data["kind"], *map(text_of, ("model", "graph", "cwd", "url", "assistant")))

    def describe(self) -> str:
        """What answers the thread, in a few words ("the graph agent.py:graph", "chat with anthropic:claude")."""
        if self.kind == "graph":  # an id or a module is one of the directory it was named in (a file: its path)
            where = f" (named in {self.cwd})" if self.cwd and not (self.graph or "").startswith("/") else ""
            return f"the graph {self.graph}{where}"
        if self.kind == "remote":
            return f"the graph {self.assistant} at {self.url}" if self.assistant else f"the graph at {self.url}"
        return f"chat with {self.model}" if self.model else "chat's own graph"

    def command(self, thread_id: str) -> str:
        """The command that goes on with the thread (an Agent Server's names its server and assistant)."""
        server = ["--remote", self.url] if self.kind == "remote" and self.url else []
        assistant = ["--assistant", self.assistant] if server and self.assistant else []
        return " ".join(["chat", *server, *assistant, "--thread", thread_id])

    def explicit_command(self, thread_id: str) -> str:
        """The command that goes on with the thread naming its graph (and the directory it was named in)."""
        import shlex

        where = f"cd {shlex.quote(self.cwd)} && " if self.cwd else ""
        return f"{where}chat --graph {shlex.quote(self.graph or '')} --thread {thread_id}"

    def same_graph(self, other: Binding) -> bool:
        """Both name the same graph of the user's: the same file, or the same module or id from the same directory."""
        same = (self.kind, self.graph) == (other.kind, other.graph)
        return same and ((self.graph or "").startswith("/") or self.cwd == other.cwd)


def resume_template(bound: Binding | None, db: str) -> str:
    """The command that goes on with a thread, ``{id}`` for its id: ``chat --thread {id}``, which finds what
    answers it; a graph's thread in a shared database (which loads no code by itself) names its graph."""
    from chatcli.store import is_postgres_url

    if bound is not None and bound.kind == "remote":  # a server's thread: its server and assistant named
        return bound.command("{id}")
    if bound is None or bound.kind != "graph" or not is_postgres_url(db):
        return "chat --thread {id}"
    return bound.explicit_command("\0").replace("{", "{{").replace("}", "}}").replace("\0", "{id}")


def model_from_index(model: str | None) -> str | None:
    """The model a thread stored before bindings were kept last answered with (its index row's model), when that
    names a model rather than a graph (``agent.py:graph``): chat goes on with it."""
    from chatcli.provider_table import PROVIDERS

    if not model:
        return None
    prefix, colon, _ = model.partition(":")
    return model if not colon or prefix in {row.name for row in PROVIDERS} else None


@dataclass(frozen=True)
class Choice:
    """What the command line asked for a thread: ``graph`` (--graph's binding, or None for chat's own), ``model``
    (-m), ``rebind`` (--rebind: hand the thread to what the command line names)."""

    graph: Binding | None = None
    model: str | None = None
    rebind: bool = False


@dataclass(frozen=True)
class Reconciled:
    """What a run goes on with: the graph to load (None: chat's own), the model (None: the settings'), and a
    line to say once (a change of the thread's binding), if any."""

    graph: Binding | None
    model: str | None
    said: str | None = None


def reconcile(thread_id: str, stored: Binding | None, last_model: str | None, choice: Choice) -> Reconciled:
    """The command line's ``choice`` for an existing thread bound to ``stored`` (None: stored before bindings;
    ``last_model`` is its index row's model then)."""
    if stored is None:
        old = model_from_index(last_model)
        stored = Binding(model=old) if old or last_model is None else None
    if stored is None:  # an old thread of a graph: it was never known which; as before, what the flags say
        return Reconciled(choice.graph, choice.model)
    if stored.kind == "remote":
        raise UsageError(f"thread {thread_id} is on {stored.url}", hint=f"{stored.command(thread_id)} goes on with it")
    wanted = choice.graph or Binding(model=choice.model)
    if stored.kind == "graph" and choice.graph is None and choice.model is None:
        return Reconciled(stored, None)
    moved = (wanted.kind != stored.kind) or (wanted.kind == "graph" and not wanted.same_graph(stored))
    if moved and not choice.rebind:
        raise UsageError(
            f"thread {thread_id} is answered by {stored.describe()}, not {wanted.describe()}",
            hint=f"{stored.command(thread_id)} goes on with it; --rebind hands it to {wanted.describe()}",
        )
    if moved:
        return Reconciled(choice.graph, choice.model, f"thread {thread_id} now answered by {wanted.describe()}")
    if choice.graph is not None:
        return Reconciled(choice.graph, None)
    if choice.model is None:
        return Reconciled(None, stored.model)
    if choice.model != stored.model:
        was = f" (was {stored.model})" if stored.model else ""
        return Reconciled(None, choice.model, f"thread {thread_id} now answers with {choice.model}{was}")
    return Reconciled(None, choice.model)


# Why a graph's thread is not compacted: its memory is its graph's business (as the prompt says it).
GRAPHS_OWN = "a graph keeps its thread's memory its own way: compaction is for chat's own threads"


def refuse_graphs(thread_id: str, binding: Binding | None, last_model: str | None = None) -> None:
    """Refuse, in one line naming why, a thread that a graph answers: one of ``--graph`` or ``--remote`` (its
    ``binding``), or one stored before bindings whose index row names a graph (``last_model``: ``agent.py:graph``)."""
    if binding is not None and binding.kind != "chat":
        raise UsageError(f"thread {thread_id} is answered by {binding.describe()}: {GRAPHS_OWN}")
    if binding is None and last_model and model_from_index(last_model) is None:
        raise UsageError(f"thread {thread_id} was answered by the graph {last_model}: {GRAPHS_OWN}")
