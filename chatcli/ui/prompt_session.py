"""The prompt-toolkit session of the prompt: its keys, its input history, and notes shown above it."""

from __future__ import annotations

from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import Completer
from prompt_toolkit.filters import emacs_mode
from prompt_toolkit.input.ansi_escape_sequences import ANSI_SEQUENCES
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.keys import Keys

from chatcli.config import Settings
from chatcli.core.elicitation import Elicitation, Elicited
from chatcli.core.events import Decision, Notice, Question, Reply, Review, ToolCall, TurnEvent
from chatcli.core.inputs import check_question
from chatcli.errors import ChatError
from chatcli.text import counted
from chatcli.ui.input_history import private_history
from chatcli.ui.output import Output

# With vi keys, Esc leaves insert mode at once (vim's ttimeoutlen is as short): the terminal sends an escape
# sequence in one piece, so 50 ms tells a key that starts with Esc from Esc pressed by itself.
VI_ESCAPE_WAIT = 0.05
# Alt-Enter as the terminal sends it (Esc and Enter at once) is a key of its own, told from Esc pressed and then
# Enter: with vi keys, the first inserts a newline and the second leaves insert mode, then sends.
ANSI_SEQUENCES.setdefault("\x1b\r", Keys.F24)
ALT_ENTER = "f24"


def key_bindings() -> KeyBindings:
    """Enter sends; Alt-Enter and Ctrl-J (with emacs keys, Esc then Enter too) insert a newline; Ctrl-X Ctrl-E
    opens the editor. With vi keys, Esc then Enter is what vi makes of it: leave insert mode, then send."""
    bindings = KeyBindings()

    @bindings.add("escape", "enter", filter=emacs_mode)
    @bindings.add(ALT_ENTER)
    @bindings.add("c-j")
    def _newline(event: Any) -> None:
        """Insert a newline instead of sending."""
        event.current_buffer.insert_text("\n")

    @bindings.add("c-x", "c-e")
    def _edit(event: Any) -> None:
        """Open $VISUAL or $EDITOR on the input; what it saves becomes the input (Enter sends it)."""
        event.current_buffer.open_in_editor(validate_and_handle=False)

    return bindings


def make_session(settings: Settings, completer: Completer | None = None, **io: Any) -> PromptSession[str]:
    """The prompt-toolkit session: persistent history, multiline keys, Ctrl-R search, Tab completion;
    vi keys when ``editing_mode`` is "vi" (the cursor a bar while inserting, a block otherwise)."""
    vi = settings.editing_mode == "vi"
    if vi:
        from prompt_toolkit.cursor_shapes import ModalCursorShapeConfig

        io.setdefault("cursor", ModalCursorShapeConfig())
    session: PromptSession[str] = PromptSession(
        vi_mode=vi,
        history=private_history(settings.history_file or "", keep=lambda line: _sendable(line, settings)),
        key_bindings=key_bindings(),
        multiline=False,
        prompt_continuation="… ",
        enable_history_search=False,
        completer=completer,
        complete_while_typing=False,  # Tab completes; typing never opens a menu over Up/Down
        **io,
    )
    if vi:
        session.app.ttimeoutlen = VI_ESCAPE_WAIT
    return session


def _sendable(line: str, settings: Settings) -> bool:
    """True for a line chat would accept: worth recalling with Up (a refused huge paste is not)."""
    try:
        check_question(line, settings.context_tokens)  # the user's own budget; a model's window is the turn's
    except ChatError:
        return False
    return True


def mode_mark(session: PromptSession[str]) -> str:
    """ "[I] ", "[N] " or "[R] " (insert, normal, replace) in front of the prompt with vi keys; "" with emacs keys."""
    from prompt_toolkit.enums import EditingMode

    if session.app.editing_mode != EditingMode.VI:
        return ""
    mode = str(session.app.vi_state.input_mode.value)  # "vi-insert", "vi-insert-multiple", "vi-navigation", ...
    return f"[{mode.removeprefix('vi-')[0].upper()}] "


class AbovePrompt:
    """The prompt's listener (chatcli.core.events): the output, with the notices that come while the
    prompt waits for input (an MCP server that failed) printed above it, not across the line being typed."""

    def __init__(self, session: PromptSession[str], output: Output):
        # ``calls``: the tool calls heard so far (a reply that ran one is not moved to the background).
        self.session, self.output, self.calls = session, output, 0

    def hear(self, event: TurnEvent) -> None:
        if isinstance(event, ToolCall):
            self.calls += 1
        if isinstance(event, Notice) and self.session.app.is_running:
            from prompt_toolkit.application import run_in_terminal

            run_in_terminal(lambda: self.output.hear(event))
        else:
            self.output.hear(event)

    async def approve(self, call: ToolCall, review: Review | None = None) -> Decision:
        return await self.output.approve(call, review)

    async def answer(self, question: Question) -> Reply | None:
        return await self.output.answer(question)

    async def elicit(self, question: Elicitation) -> Elicited | None:
        return await self.output.elicit(question)


def banner(thread_id: str, info: Any, named: bool, resume: str = "chat --thread {id}") -> list[str]:
    """The first lines: the thread resumed (its title and size), or a new one, said to be new; ``resume`` is how
    the hint names the command that goes on with it (``{id}`` for its id)."""
    again = resume.format(id=thread_id)
    if info is None and named:  # a name the user chose: resuming by it works, stored or not
        return [f"chatcli · new thread {thread_id} · resume with: {again}"]
    if info is None:  # its id is said once it exists, with the first message
        return ["chatcli · new thread · its id follows your first message"]
    return [
        f"chatcli · thread {thread_id} · resume with: {again}",
        f"{info.title or '(untitled)'} · {counted(info.message_count, 'message')} · /history shows them",
    ]
