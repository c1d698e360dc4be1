"""The LangGraph app: a thread's state, its prompt (system message + variables), memory (compact, trim or summary),
the model node."""

from __future__ import annotations

import asyncio
import json
import re
from contextlib import asynccontextmanager
from dataclasses import KW_ONLY, InitVar, dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, AsyncIterator, Awaitable, Callable, Mapping

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, BaseMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from typing_extensions import NotRequired, TypedDict

from chatcli.backends.own import toolcalls
from chatcli.backends.own.compaction import CUT_NOTE, RUNNING, SUMMARY_USAGE, automatic, compact, fitted

# How long a model step waits for MCP servers still starting (each also has its own limit): as a question does.
from chatcli.backends.own.mentions import SERVER_WAIT
from chatcli.backends.own.request_history import for_provider, now_iso, with_media, without_tools
from chatcli.config import Settings
from chatcli.core.chunks import add_usage
from chatcli.core.events import Compacted, Emit, Notice, TurnResult, saying
from chatcli.errors import UsageError
from chatcli.provider_table import name_of

# LangGraph's add_messages, at O(new messages) for the appends of a turn.
from chatcli.store.messages.reducer import add_messages
from chatcli.tools import builtin

if TYPE_CHECKING:
    from chatcli.backends.own.meter import Meter
    from chatcli.backends.own.sampling import Sampling
    from chatcli.backends.own.spending import Guard
    from chatcli.config import Settings
    from chatcli.tools.hooks import Verdict
    from chatcli.tools.toolbox import Toolbox


MODEL_NODE = "model"
# The estimated size (tokens) of what was sent to the model: in the stream metadata of the
# reply's chunks and in the stored reply's response_metadata.
PROMPT_ESTIMATE = "chatcli_prompt_tokens_est"
# Questions of the thread (with their answers) not sent with this request: the budget left them out.
TURNS_LEFT_OUT = "chatcli_turns_left_out"
# Questions of the thread folded into its summary just before this request (an automatic compaction).
TURNS_COMPACTED = "chatcli_turns_compacted"
MEMORIES = "chatcli_memories"  # the ids of the memories a request carried


@dataclass(frozen=True)
class CallEnded:
    """Emitted by the model step when its call has returned, the reply whole: what the run does after it until its
    stream ends (keeping the reply, on a disk however slow) is chat's own work, not the server's silence."""


class ChatState(TypedDict):
    """What a thread keeps: its messages and the settings that belong to it."""

    messages: Annotated[list[AnyMessage], add_messages]
    system: NotRequired[str | None]
    vars: NotRequired[dict[str, str]]
    # The summary of the messages up to and including the one with id ``summary_through``, sent in their
    # place (chatcli.backends.own.compaction); the questions (by id) whose turns are always sent whole (/pin); and
    # the last compaction made, with the summary it replaced.
    summary: NotRequired[str | None]
    summary_through: NotRequired[str | None]
    pinned: NotRequired[list[str] | None]
    compaction: NotRequired[dict[str, Any] | None]
    # The role the thread was set up with (chatcli.backends.own.roles), by name, and its model and
    # temperature (None: the settings'), which the thread keeps as it keeps its system prompt.
    role: NotRequired[str | None]
    model: NotRequired[str | None]
    temperature: NotRequired[float | None]


_VARIABLE = re.compile(r"\{(\w+)\}")


def render_system(template: str, variables: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders from the thread's variables; other braces stay as written."""
    return _VARIABLE.sub(lambda m: str(variables.get(m.group(1), m.group(0))), template)


def _say(emit: Emit, text: str | None, in_result: bool = False) -> None:
    if text:
        emit(Notice(text, in_result=in_result))


@dataclass(eq=False)
class ChatGraph:
    """The chat graph: START -> model (-> tools -> model ...) -> END; its model step, and how it is compiled.

    ``model`` is a chat model, or a function from a model name to one: the name comes
    from ``config["configurable"]["model"]`` on each run, so a thread can switch models.
    ``memory`` is "compact" (at the start of a turn whose request would pass ``compact_at`` of the budget,
    the older turns are folded into a summary kept in the thread, sent in their place), "trim" (history
    beyond the budget is left out of the request) or "summary" (what would not fit is folded at every step).
    A summary the thread has (from /compact, or another memory) is sent whatever the memory.
    ``before_model`` runs at the start of each model step, after the question is checkpointed
    (chat --local starts its server again there if it stopped; it is given a function to say so).
    ``states`` (chatcli.backends.own.model_state.ModelStates) keeps what is learned per model: its history
    budget (``context_tokens`` to start with), and its WindowFitter, which, when a request is
    refused for its size, proposes a smaller budget: if that makes the history shorter, the model
    is asked again, once.

    ``toolbox`` (a chatcli.tools.toolbox.Toolbox) offers the model its tools: a reply that
    calls them goes to the tools node (chatcli.backends.own.toolcalls), which asks for approval and
    runs them, then back to the model, at most ``tool_rounds`` times per question; a result
    longer than ``tool_result_chars`` is cut in what the model is sent (kept whole).
    What the steps have to say goes out as ``Notice`` events on the turn's stream.
    """

    model: BaseChatModel | Callable[[str | None], BaseChatModel] | None
    _: KW_ONLY
    default_system: str
    context_tokens: InitVar[int | None]
    memory: str = "trim"
    compact_at: float = 0.9
    before_model: Callable[[Callable[[str], None]], Awaitable[None]] | None = None
    states: Any = None
    toolbox: "Toolbox | None" = None
    tool_rounds: int = 10
    continuations: int = 3  # the passes a SubagentStop hook may have a subagent make past its answer (``block``)
    tool_result_chars: int = 20_000
    pricer: Any = None  # a chatcli.backends.own.pricing.Pricer: each reply's cost is stored with it and emitted
    # What each request carries beside the thread (chatcli.backends.own.standing.Standing: the memories the user
    # asked chat to keep, the project's AGENTS.md); None: nothing.
    standing: Any = None
    # The spending limits (chatcli.backends.own.spending.Guard): each model call's most held first; None: none.
    guard: "Guard | None" = None
    told_tools: bool = field(default=False, init=False)  # the tools' share of a small window was said (once)
    # The subagent this graph runs, as its type and id (chatcli.backends.own.subagents); None: the thread's own.
    agent: tuple[str, str] | None = None

    def __post_init__(self, context_tokens: int | None) -> None:
        from chatcli.backends.own.model_state import ModelStates

        if self.states is None:
            self.states = ModelStates(context_tokens)

    def compile(self, checkpointer: BaseCheckpointSaver[Any] | None, store: Any = None) -> Any:
        """The compiled app, persisted by ``checkpointer``; ``store``: LangGraph's store beside it (memories)."""
        builder = StateGraph(ChatState)
        graph = self

        # A small node that calls the model step, as the tools node is: LangGraph reads a node's code for subgraphs
        # at each compile, and reading the whole step's was a third of the cost of compiling (once per open).
        async def model_step(state: ChatState, config: RunnableConfig) -> dict[str, Any]:
            return await graph.call_model(state, config)

        builder.add_node(MODEL_NODE, model_step)
        builder.add_edge(START, MODEL_NODE)
        if self.toolbox is None:
            builder.add_edge(MODEL_NODE, END)
        else:
            builder.add_node(toolcalls.TOOLS_NODE, toolcalls.make_tools_node(self.toolbox, self))
            builder.add_conditional_edges(MODEL_NODE, self.after_model, [toolcalls.TOOLS_NODE, END])
            builder.add_edge(toolcalls.TOOLS_NODE, MODEL_NODE)
        return builder.compile(checkpointer=checkpointer, store=store)

    def model_for(self, config: RunnableConfig) -> BaseChatModel:
        configurable = config.get("configurable") or {}
        assert self.model is not None  # (a graph built without one only reads its threads)
        chosen = self.model if isinstance(self.model, BaseChatModel) else self.model(configurable.get("model"))
        temperature = configurable.get("temperature")  # a role's, switched to at the prompt
        return chosen.model_copy(update={"temperature": temperature}) if temperature is not None else chosen

    def model_name(self, config: RunnableConfig) -> str:
        """The name of the model a run of ``config`` asks (the thread's, else the settings')."""
        settings = getattr(self.states, "settings", None)
        named = (config.get("configurable") or {}).get("model")
        return str(named or (settings.model if settings is not None else "") or "")

    async def sample(self, request: "Sampling", config: RunnableConfig, emit: Emit) -> dict[str, Any]:
        """An MCP server's request to use the model, which the user allowed (chatcli.backends.own.sampling): answered
        by the thread's model with the server's messages alone, its call within the spending limits and its cost
        the turn's, as a model step's; its tokens are never streamed as the reply. The server's answer, or why
        there is none (said to the user too)."""
        from chatcli.backends.own.sampling import answered, refused, result

        quiet: RunnableConfig = {**config, "tags": [*(config.get("tags") or []), "nostream"]}  # never the reply
        async with self._opened(ChatState(messages=[]), quiet, emit) as step:
            try:
                text, usage, cut = await answered(step.chat_model, request, step.config)
            except Exception as exc:  # noqa: BLE001 - the server hears why, the user too; the call goes on
                why = step.why(exc)
                _say(emit, f"the model did not answer the MCP server's request: {why}")
                return refused(f"the model did not answer: {why}")
        if usage and self.pricer is not None:
            emit(self.pricer.priced(usage, self.model_name(config), step.name))
        return result(text, self.model_name(config), cut)

    async def delegate(self, call_id: str, arguments: dict[str, Any], config: RunnableConfig, emit: Emit) -> Any:
        """The ``Agent`` call ``call_id``'s result: its subagent's run (chatcli.backends.own.subagents)."""
        from chatcli.backends.own.subagents import delegate

        return await delegate(self, call_id, arguments, config, emit)

    def offered(self, state: ChatState, refused: bool, toolbox: "Toolbox | None", emit: Any) -> list[dict[str, Any]]:
        """``toolbox``'s tools to offer for this step: none past the round limit (said) or for a model that
        ``refused`` them."""
        if toolbox is None or not toolbox.configured or refused:
            return []
        messages = state["messages"]
        asked = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].type == "human"), 0)
        rounds = sum(1 for m in messages[asked:] if toolcalls.calls_of(m))
        if rounds >= self.tool_rounds:
            used = f"the model used its {self.tool_rounds} rounds of tools for this question: it answers without them"
            _say(emit, f"{used} now (tool_rounds, a subagent's maxTurns, set how many)")
            return []
        from chatcli.core.memories import ASKED

        # What the user typed asked to remember (chatcli.service.thread marks it; not a pipe's, file's or prompt's).
        remembering = bool(messages and messages[asked].additional_kwargs.get(ASKED) is True)
        if toolbox.builtin_groups == ("memory",) and not toolbox.servers and not remembering:
            return []  # (the remember tool alone, on a turn that asks nothing of the kind: no tools)
        toolbox.freshen()  # listings gone stale in a long session: listed again, offered from the next request
        schemas = toolbox.schemas()
        chosen = schemas if remembering else [s for s in schemas if s["function"]["name"] != "remember"]
        return builtin.narrowed(chosen, toolbox, messages[asked:])  # a skill active in the turn may narrow them

    async def call_model(self, state: ChatState, config: RunnableConfig) -> dict[str, Any]:
        """The model step: the thread's prompt and history within the budget, one call (asked again smaller, once)."""
        emit = toolcalls.emitter()
        toolbox = toolcalls.toolbox_of(config, self.toolbox)
        if toolbox is not None and toolbox.configured:
            await toolbox.settle(SERVER_WAIT, unknown=True)  # MCP servers started with nothing cached: wanted now
        # A question's first call (a subagent's question is the thread's, asked still: its limit goes on counting).
        asked = bool(state["messages"]) and state["messages"][-1].type == "human" and self.agent is None
        async with self._opened(state, config, emit, new_question=asked) as step:
            return await self._step(step, state, emit, toolbox)

    @asynccontextmanager
    async def _opened(
        self, state: ChatState, config: RunnableConfig, emit: Emit, new_question: bool = False
    ) -> AsyncIterator["_Step"]:
        """A model step of ``state``: chat --local's server waited for (or started again) first, every call of it
        (summaries too) within the spending limits (``new_question``: a question's first, whose limit starts again),
        and a call still open when it ends (cancelled) settled at what it sent and what came."""
        if self.before_model is not None:
            await self.before_model(lambda text: _say(emit, text))
        step = _Step(self, state, config, emit)
        if self.guard is not None and self.guard.limited:
            if new_question:
                await self.guard.new_question(step.thread_id)
            step.metered(self.guard)
        try:
            yield step
        finally:
            if step.meter is not None:
                await asyncio.shield(step.meter.close())

    async def _step(self, step: "_Step", state: ChatState, emit: Emit, toolbox: "Toolbox | None") -> dict[str, Any]:
        step.learned = await self.states.of(step.name)
        if self.standing is not None:  # the memories and the project's instructions, within their share
            # (ranked by the last question's words, its attachments' text parts too)
            asked = next((m for m in reversed(state["messages"]) if m.type == "human"), None)
            question = asked.text if asked is not None and isinstance(asked.text, str) else ""
            extra, step.memories = await self.standing.context(step.config, step.learned.budget, emit, question)
            if extra:
                step.system = SystemMessage(f"{step.system.content}\n\n{extra}".strip())
        started = {}
        if self.agent is not None and len(state["messages"]) == 1:  # a subagent's first request: its hooks' context
            said = await step.hook("SubagentStart", agent_type=self.agent[0], agent_id=self.agent[1])
            if said.context:
                started["system"] = "\n\n".join([str(step.system.content), *said.context])
                step.system = SystemMessage(started["system"])
        step.tools = self.offered(state, step.learned.no_tools, toolbox, emit)
        if catalog := builtin.catalog_for(step.tools, toolbox):  # the skills, where their tool is offered
            step.system = SystemMessage(f"{step.system.content}\n\n{catalog}")
        if self.pricer is not None:
            self.pricer.warm(step.name)  # the price table loads while the request is out
        history, update, summary_usage, estimate = await step.prepare()
        try:
            reply = await step.ask(history, estimate)
        except Exception as exc:
            learned, fitter = step.learned, step.learned.fitter
            trouble = self.states.trouble(exc, step.name) if fitter is not None else None
            smaller = fitter.propose(trouble, learned.budget, estimate) if trouble is not None else None
            if smaller is None:
                raise
            first, learned.budget = learned.budget, smaller
            sent = len(history)
            history, update, summary_usage, estimate = await step.prepare()
            if len(history) >= sent:  # nothing left to cut: the message alone is too long
                learned.budget = first
                raise
            _say(emit, fitter.adopt(smaller))  # this process keeps it too, and later ones read it
            reply = await step.ask(history, estimate)
        # Its calls read strictly, each under an id of its own, before anything runs or is stored.
        reply = toolcalls.settled(reply)
        if not step.tools:
            kept = without_tools(reply)  # calls of tools never offered could never be answered
            assert kept is not None  # a reply is an AI message: only a tool result is dropped whole
            reply = kept
        reply.response_metadata.setdefault("created_at", now_iso())
        reply.response_metadata[PROMPT_ESTIMATE] = estimate
        if step.tools:  # what its calls may name (chatcli.backends.own.toolcalls runs no other)
            reply.response_metadata[toolcalls.OFFERED] = [tool["function"]["name"] for tool in step.tools]
        if summary_usage:
            reply.response_metadata[SUMMARY_USAGE] = summary_usage
        if self.pricer is not None:
            self._price(reply, step.name, summary_usage, emit)
        return {"messages": [reply], **update, **started}

    def _price(self, reply: Any, asked: str, summary_usage: Any, emit: Emit) -> None:
        """Keep the reply's cost (its call's and its summaries') with it, and tell the turn its call's."""
        from chatcli.backends.own.pricing import COST_KEY, LOCAL, UNPRICED_KEY

        usage, name = getattr(reply, "usage_metadata", None), reply.response_metadata.get("model_name")
        if usage:  # an answer the server sent no counts for has no cost either
            priced = self.pricer.priced(usage, name, asked)
            emit(priced)
            reply.response_metadata[COST_KEY] = self.pricer.cost_of((usage, summary_usage), name, asked)
            if priced.local:
                reply.response_metadata[UNPRICED_KEY] = LOCAL

    async def compact(
        self, state: ChatState, config: RunnableConfig, focus: str | None, emit: Emit
    ) -> tuple[dict[str, Any], Compacted]:
        """Fold every turn of the thread but the last into its summary (/compact), as the PreCompact hooks let it
        (PostCompact's told after; ``emit`` hears them): the state update to store, and what was done, its usage and
        cost (also kept with the thread's last answer, as a summary made for it)."""
        from chatcli.backends.own.pricing import COST_KEY

        # (a compaction asked for is a question of its own)
        async with self._opened(state, config, emit, new_question=True) as step:
            await step.may_fold("manual", focus or "")
            step.learned = await self.states.of(step.name)
            try:
                folded = await compact(step.chat_model, step.system, state, step.config, step.learned.budget, focus)
            except Exception as exc:  # the summary request's failure, said as a turn's is (and nothing changed)
                said = step.translated(exc)
                if said is exc:
                    raise
                raise said from exc
            await step.hook("PostCompact", trigger="manual")
        spent = TurnResult("", usage=folded.usage, model=step.name or None, context_tokens=step.learned.budget)
        after = count_tokens_approximately(folded.messages)
        done = Compacted(folded.folded, folded.before, after, focus or None, spent, folded.cut)
        answer = next((m for m in reversed(state["messages"]) if m.type == "ai"), None)
        if folded.usage and answer is not None:
            meta = dict(answer.response_metadata)
            meta[SUMMARY_USAGE] = add_usage(meta.get(SUMMARY_USAGE), folded.usage)
            if self.pricer is not None:
                name = meta.get("model_name")
                priced = self.pricer.priced(folded.usage, name, step.name)
                spent.add_cost(priced.usd, priced.model, priced.local)
                if getattr(answer, "usage_metadata", None):
                    used = (answer.usage_metadata, meta[SUMMARY_USAGE])
                    meta[COST_KEY] = self.pricer.cost_of(used, name, step.name)
            folded.update["messages"] = [answer.model_copy(update={"response_metadata": meta})]
        return folded.update, done

    async def after_model(self, state: ChatState) -> str:  # (async: LangGraph runs a plain function on a thread)
        messages = state["messages"]
        calling = self.toolbox is not None and messages and toolcalls.calls_of(messages[-1])
        return toolcalls.TOOLS_NODE if calling else END


class _Step:
    """One model step's request: what is sent, with which tools, and the call itself."""

    def __init__(self, graph: ChatGraph, state: ChatState, config: RunnableConfig, emit: Emit):
        self.graph, self.state, self.config, self.emit = graph, state, config, emit
        template = state.get("system") or graph.default_system
        self.system = SystemMessage(render_system(template, state.get("vars") or {}))
        self.chat_model = graph.model_for(config)
        self.name = (config.get("configurable") or {}).get("model") or ""
        self.thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
        self.provider = name_of(graph.model_name(config))
        self.learned: Any = None  # the model's ModelState, set before the step asks
        self.tools: list[dict[str, Any]] = []
        self.left_out = 0  # questions the budget leaves out of this request (trim memory)
        self.compacted = 0  # questions folded into the summary for this request
        self.memories: list[str] = []  # the ids of the memories this request carries
        self.meter: Meter | None = None  # the spending limits' meter of its calls, where a limit is set
        self.told_unsent = False  # a tool result's image or audio the model does not take was said

    async def hook(self, event: str, history: list[Any] | None = None, **fields: Any) -> Verdict:
        """What the session's hooks of ``event`` say (``history``: its transcript first), each failure and message
        told."""
        fire = toolcalls.hooks_of(self.config).fire
        return await fire(event, fields, session_id=self.thread_id, say=saying(self.emit), history=history)

    async def may_fold(self, trigger: str = "auto", focus: str = "") -> bool:
        """Whether the PreCompact hooks let this step fold turns into the summary (``trigger`` "manual": a compaction
        asked for, steered by ``focus``); a refusal said, or raised (UsageError) for a compaction asked for."""
        history = self.state["messages"] if self.graph.agent is None else None  # (a subagent's are not the thread's)
        said = await self.hook("PreCompact", history, trigger=trigger, custom_instructions=focus)
        if not (said.blocked or said.stop is not None):
            return True
        if trigger == "manual":
            raise UsageError(f"a PreCompact hook refused compaction: {said.reason or said.stop}")
        _say(self.emit, "a PreCompact hook refused compaction: the earlier turns that do not fit are left out")
        return False

    async def prepare(self) -> tuple[list[BaseMessage], dict[str, Any], Any, int]:
        graph = self.graph
        messages = self.state["messages"]
        fold = None
        if graph.memory == "summary":
            fold = RUNNING
        elif graph.memory == "compact" and messages and messages[-1].type == "human":  # never inside a turn
            fold = automatic(self.graph.compact_at)
        # The tools offered go with every request: their names, descriptions and schemas take from the budget what
        # the turns would (an MCP server's descriptions may be long), never less than a quarter left for the turns.
        # (their size estimated as the turns' is, a token about four characters: the model is sent their JSON)
        tools = len(json.dumps(self.tools, ensure_ascii=False, default=str)) // 4 if self.tools else 0
        budget = max(self.learned.budget - tools, self.learned.budget // 4)
        if tools > self.learned.budget // 2 and not graph.told_tools:  # a small window (a local model's), many tools
            graph.told_tools = True
            took = f"the {len(self.tools)} tools offered take ~{tools:,} of the ~{self.learned.budget:,} tokens"
            left = "little is left for the conversation (--no-tools, fewer MCP servers, or a model with a bigger window"
            _say(self.emit, f"{took} this model is sent: {left}: CHATCLI_LOCAL_N_CTX for the local one)")
        try:
            plan = await fitted(self.chat_model, self.system, self.state, self.config, budget, fold, self.may_fold)
        except Exception as exc:
            from chatcli.backends.own.spending import LimitReached

            if fold is None or isinstance(exc, LimitReached):  # (a limit is not a failure to fold around)
                raise
            # The question still goes: the turns that do not fit are left out, as trim leaves them, and said.
            why = self.why(exc)
            _say(self.emit, f"could not compact the earlier turns ({why}): those that do not fit are left out")
            plan = await fitted(self.chat_model, self.system, self.state, self.config, budget, None)
        if plan.folded:
            await self.hook("PostCompact", trigger="auto")
            after = count_tokens_approximately(plan.messages)
            turns = f"{plan.folded} earlier turn{'s' if plan.folded != 1 else ''}"
            cut = f"; {CUT_NOTE}" if plan.cut else ""
            said = f"compacted {turns} into a summary (~{plan.before:,} -> ~{after:,} tokens sent{cut})"
            _say(self.emit, f"{said}: /summary shows it", in_result=True)  # turns_compacted
        self.left_out, self.compacted = plan.left_out, plan.folded
        if self.learned.fitter is not None and graph.memory != "summary":
            _say(self.emit, self.learned.fitter.left_out(self.left_out), in_result=True)  # turns_left_out
        history = for_provider(toolcalls.repair(plan.messages, graph.tool_result_chars), self.provider)
        profile = getattr(self.chat_model, "profile", None)
        history, unsent = with_media(history, profile if isinstance(profile, dict) else {})
        if unsent and not self.told_unsent:
            self.told_unsent = True
            said = f"the {', '.join(unsent)} a tool returned (the result says where it is kept)"
            _say(self.emit, f"not sent to {self.name or 'the model'}, which takes no such input: {said}")
        return history, plan.update, plan.usage, count_tokens_approximately(history) + tools

    def translated(self, exc: Exception) -> Exception:
        """``exc`` from this step's model as a failed turn says it (a ModelError), or as it is."""
        from chatcli.backends.own.failures import translate

        settings = getattr(self.graph.states, "settings", None) or Settings()
        return translate(exc, settings, model=self.name or None)

    def why(self, exc: Exception) -> str:
        """``exc`` from this step's model (the summariser's too), in the one line a failed turn would say it."""
        from chatcli.backends.own.failures import describe

        return describe(self.translated(exc), getattr(self.graph.states, "settings", None)).line

    def metered(self, guard: "Guard") -> None:
        """This step's calls go through ``guard``'s meter: each held within the spending limits before it is sent,
        and stopped as it streams where it would pass one."""
        from langchain_core.runnables.config import merge_configs

        from chatcli.backends.own.meter import Meter
        from chatcli.backends.own.model_state import table_window

        name = self.name or guard.settings.model
        profile = getattr(self.chat_model, "profile", None) or {}
        out_limit = profile.get("max_output_tokens") if isinstance(profile, dict) else None
        out_limit = out_limit if isinstance(out_limit, int) else None
        window = table_window(guard.settings, name)
        self.meter = Meter(guard, self.thread_id, lambda text: _say(self.emit, text), name, out_limit, window)
        self.config = merge_configs(self.config, {"callbacks": [self.meter]})

    async def ask(self, history: list[BaseMessage], estimate: int) -> BaseMessage:
        bound = self.chat_model.bind_tools(self.tools) if self.tools else self.chat_model
        # The estimate of what is sent, the turns left out and those just compacted, and the memories the request
        # carries, in the call's metadata (the streamed chunks carry them).
        said: dict[str, Any] = {PROMPT_ESTIMATE: estimate, TURNS_LEFT_OUT: self.left_out, MEMORIES: self.memories}
        said[TURNS_COMPACTED] = self.compacted
        told: RunnableConfig = {**self.config, "metadata": {**(self.config.get("metadata") or {}), **said}}
        try:
            reply = await bound.ainvoke(history, told)
        except Exception as exc:
            if not self.tools or not toolcalls.tools_refused(exc):
                raise
            self.learned.no_tools = True
            _say(self.emit, f"the model {self.name} does not take tools here: asking without them".replace("  ", " "))
            self.tools = []
            reply = await self.chat_model.ainvoke(history, told)
        self.emit(CallEnded())
        return reply


def build_graph(model: Any, checkpointer: BaseCheckpointSaver[Any] | None, **options: Any) -> Any:
    """Compile the chat graph (see ``ChatGraph``) with ``checkpointer``."""
    return ChatGraph(model, **options).compile(checkpointer)


def graph_for(settings: Settings, models: Any, toolbox: "Toolbox | None" = None, **more: Any) -> ChatGraph:
    """Chat's graph on ``settings``, asking ``models`` (a chatcli.backends.own.model.ModelPool), with ``toolbox``'s
    tools; ``more``: what only a session's graph has (its store's states, standing, guard, the local server)."""
    from chatcli.backends.own.pricing import Pricer

    same = ("context_tokens", "memory", "compact_at", "tool_rounds", "tool_result_chars")  # named as the settings
    more |= {name: getattr(settings, name) for name in same}
    more |= dict(default_system=settings.system, continuations=settings.max_continuations, toolbox=toolbox)
    return ChatGraph(models, pricer=Pricer(settings.prices, settings.base_url, bool(settings.local), settings), **more)
