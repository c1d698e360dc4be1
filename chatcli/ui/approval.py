"""The approval question, asked in the terminal before any tool call runs.

One key answers, without Enter: Enter alone means No; y runs the call, a runs it and every
later call of that tool this session, e edits the arguments (JSON) first, r refuses with a
reason for the model, v shows the whole arguments, q refuses this call and every later one of
the same reply. Ctrl-C or Ctrl-D at the question (or at its edit and reason prompts) does what
q does: the session goes on. Only a key pressed on its own answers (chatcli.ui.deliberate): a
key typed as part of a word or sentence (another key within half a second before or after it)
answers nothing, so a message typed as the question appears never approves, edits or
always-allows a call; the question says once that typing is no answer and waits. Keys typed
before the question appears are dropped (those the terminal holds and those prompt-toolkit read
ahead), and pasted text answers nothing; so are keys typed in the moment after the answer. The
call's block, and all the question says, is shown on the terminal the question is asked on,
even when stderr goes elsewhere; with no terminal to ask on, nothing is asked and the calls
are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import termios
from time import monotonic as _now  # the clock the keys are judged by: the event loop's
from typing import IO, TYPE_CHECKING, Any, Protocol, TextIO, cast

from chatcli.core.elicitation import Elicitation, Elicited
from chatcli.core.events import Decision, Review, ToolCall
from chatcli.text import is_terminal, neutralise, say
from chatcli.ui.deliberate import Deliberate
from chatcli.ui.toolblocks import arguments_text, call_block

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.key_binding import KeyPressEvent
    from prompt_toolkit.key_binding.key_processor import KeyPress


class Notes(Protocol):
    """The output the approver's notes and warnings go to (a chatcli.ui.output.Output)."""

    def note(self, text: str) -> None: ...

    def warn(self, text: str) -> None: ...


# Each choice of the question: the decision it takes (of chatcli.core.events.DECISIONS), its key, its words, and
# what is shown after the question once it is pressed.
_CHOICES = (
    ("approve", "y", "[y]es", "yes"),
    ("reject", "n", "[N]o", "no"),
    ("approve", "a", "[a]lways this tool", "always"),
    ("edit", "e", "[e]dit", "edit"),
    ("reject", "r", "[r]eason", "reason"),
    ("respond", "t", "[t]ype the answer", "type the answer"),
    (None, "v", "[v]iew all", "view all"),
    ("reject", "q", "[q] no to all", "no to all"),
)


def question_for(allowed: tuple[str, ...]) -> tuple[str, str, set[str]]:
    """The question, the keys line and the keys that answer, for a call that may be answered as ``allowed``."""
    chosen = [(key, words) for decision, key, words, _ in _CHOICES if decision is None or decision in allowed]
    asks = "Run it? " if {"approve", "edit"} & set(allowed) else "Answer it? "
    keys = {key for key, _ in chosen} | ({"", "?"} if "reject" in allowed else {"?"})
    named = [k + (" (or Enter)" if k == "n" else "") for k, _ in chosen if k != "q"]
    rest = ", or q (no to this call and every later one of this reply)" if "q" in keys else ""
    return asks + " / ".join(words for _, words in chosen) + ": ", f"press {', '.join(named)}{rest}", keys


# What the user typed when they stopped the question (Ctrl-C, Ctrl-D).
_STOPPED = "\x03"
# What each key answers (of the tool's questions too: chatcli.ui.asking), as shown after the question.
_SHOWN = {key: shown for _, key, _, shown in _CHOICES} | {"": "no", "o": "open", _STOPPED: "no to all"}
# What a key question gives when what was pressed was typing, not an answer (chatcli.ui.deliberate).
_TYPING = "\x00typing"
TYPING = "(that was typing, not an answer: nothing was run; press one key on its own)"
# Seconds after a one-key answer in which what is typed is the rest of that answer ("es⏎" of
# "yes⏎", an Enter out of habit), dropped rather than sent as the next message.
AFTER_ANSWER = 0.4


def _stream_of(output: object) -> IO[str] | None:
    """Where ``output`` writes its notes (and so the block of an "ask" event), if it says."""
    err = getattr(output, "err", None) or getattr(getattr(output, "err_console", None), "file", None)
    return err if hasattr(err, "write") else None


def _same_terminal(one: IO[str] | None, other: IO[str]) -> bool:
    """True if both streams are the same terminal device."""
    try:
        if one is None or not (one.isatty() and other.isatty()):
            return False
        return os.path.samestat(os.fstat(one.fileno()), os.fstat(other.fileno()))
    except (AttributeError, OSError, ValueError):
        return False


class TerminalApprover:
    """Asks the user about a call that needs approval (see the module docstring).

    ``output`` has shown the call (``asking``) and shows notes and warnings; ``terminal`` is
    where the question is asked (and the block shown again, if the output's notes go elsewhere).
    The engine keeps what "always" allowed, and refuses the rest of a reply on "q".
    ``prompt_input`` is the prompt-toolkit input the question reads, whose read-ahead keys are
    dropped (None: prompt-toolkit's own, on the terminal's stdin).
    """

    def __init__(
        self, output: Notes, stdin_fd: int = 0, terminal: IO[str] | None = None, *, prompt_input: Input | None = None
    ):
        self.output, self.stdin_fd, self.prompt_input = output, stdin_fd, prompt_input
        self.terminal = terminal if terminal is not None else sys.stdout
        self._judge = Deliberate()  # the keys of the question being asked

    def can_ask(self) -> bool:
        """True if there is a terminal to ask in."""
        return is_terminal(self.terminal)

    async def __call__(self, call: ToolCall, review: Review | None = None) -> Decision:
        self._on_terminal(call_block(call))
        if review is not None and review.description:
            self._on_terminal(review.description)
        self.drop_typeahead()  # only before the first asking: later keys were typed at the question
        decision = await self._decide(call, (review or Review()).allowed)
        await self.drop_the_rest()
        return decision

    async def elicit(self, question: Elicitation) -> Elicited:
        """A tool's question to the user (chatcli.ui.asking), shown and answered on the terminal."""
        from chatcli.ui.asking import ask

        return await ask(self, question)

    async def answer(self, shown: str) -> str | None:
        """A line answering an interrupt (``shown`` already, and here too if notes go elsewhere); None if stopped."""
        self._on_terminal(shown)
        self.drop_typeahead()
        await self._quiet()
        text = await self.line("Answer (text or JSON): ")
        return None if text == _STOPPED else text

    def say(self, text: str, warn: bool = False) -> None:
        """A line of the question's (the whole arguments, a warning) where the question is."""
        (self.output.warn if warn else self.output.note)(text)
        self._on_terminal(text)

    def _on_terminal(self, text: str) -> None:
        """``text`` on the terminal the question is asked on, unless the output's notes reach it already."""
        if not _same_terminal(_stream_of(self.output), self.terminal):
            say(self.terminal, text + "\n")

    async def drop_the_rest(self) -> None:
        """Forget what is typed in the moment after the answer: the rest of a "yes⏎" is no message."""
        await asyncio.sleep(AFTER_ANSWER)
        self._take_typed()

    async def _decide(self, call: ToolCall, allowed: tuple[str, ...]) -> Decision:
        question, keys, answering = question_for(allowed)
        stopped = Decision("no", rest=True) if "reject" in allowed else Decision("later")  # Ctrl-C, Ctrl-D
        while True:
            answer = await self.key(question)
            if answer not in answering | {_STOPPED}:
                self.say(keys, warn=True)
            elif answer in (_STOPPED, "q"):
                return stopped
            elif answer == "t":
                text = await self.line("Answer (in the tool's place): ")
                return stopped if text == _STOPPED else Decision("respond", reason=text)
            elif answer in ("y", "a"):
                return Decision("yes", always=answer == "a")
            elif answer in ("", "n"):
                return Decision("no")
            elif answer in ("v", "?"):
                self.say(neutralise(arguments_text(call.arguments, indent=2)))
            elif answer == "r":
                reason = await self.line("Reason (for the model): ")
                return stopped if reason == _STOPPED else Decision("no", reason=reason.strip() or None)
            else:  # "e"
                edited = await self._edit(call.arguments)
                if edited == _STOPPED:
                    return stopped
                if isinstance(edited, dict):
                    return Decision("yes", args=edited)

    async def _edit(self, arguments: Any) -> dict[str, Any] | str | None:
        """The arguments as the user edited them (JSON object), None to ask again, or "\\x03" if stopped."""
        text = await self.line("Arguments (JSON, Enter to run): ", default=arguments_text(arguments))
        if text == _STOPPED:
            return text
        try:
            edited = json.loads(text)
        except json.JSONDecodeError as exc:
            self.say(f"not valid JSON ({exc.msg}): the call was not run", warn=True)
            return None
        if not isinstance(edited, dict):
            self.say("the arguments must be a JSON object: the call was not run", warn=True)
            return None
        return edited

    async def key(self, question: str) -> str:
        """The key pressed on its own at ``question``, lower-cased ("" for Enter); Ctrl-C or Ctrl-D give "\\x03".
        Typing (keys pressed together: chatcli.ui.deliberate) answers nothing: said once a burst, and asked again."""
        while True:
            if (pressed := await self._one_key(question)) != _TYPING:
                return pressed
            self.say(TYPING, warn=True)

    async def _one_key(self, question: str) -> str:
        from prompt_toolkit.application import Application
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.keys import Keys

        keys, judge, loop = KeyBindings(), self._judge, asyncio.get_running_loop()

        def answer(app: Application[str], key: str) -> None:
            if app.is_running and app.future is not None and not app.future.done():
                app.current_buffer.text = _SHOWN.get(key, key)  # what the key meant stays on screen
                app.exit(result=key)

        def settle(app: Application[str]) -> None:
            if (key := judge.settled(_now())) is not None:
                answer(app, key)

        def take(event: KeyPressEvent, key: str) -> None:
            verdict = judge.pressed(key, _now())
            if verdict == "wait":  # the answer if no key follows within the gap
                loop.call_later(judge.gap, settle, event.app)
            elif verdict == "typing":
                event.app.exit(result=_TYPING)

        @keys.add(Keys.Any)
        def _pressed(event: KeyPressEvent) -> None:
            if len(event.data) == 1 and event.data.isprintable():  # arrows and function keys answer nothing
                take(event, event.data.lower())

        keys.add("enter")(lambda event: take(event, ""))
        keys.add("c-c")(keys.add("c-d")(lambda event: answer(event.app, _STOPPED)))

        @keys.add(Keys.BracketedPaste)
        def _pasted(event: KeyPressEvent) -> None:
            """Pasted text is no answer (it may hold a y): typing."""
            if judge.pasted(_now()) == "typing":
                event.app.exit(result=_TYPING)

        return await self.line(question, key_bindings=keys)

    async def line(self, question: str, default: str = "", **options: Any) -> str:
        """One answer from the terminal; Ctrl-C or Ctrl-D give "\\x03"."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.output import create_output

        if "key_bindings" not in options:  # the edit and reason lines: Ctrl-D stops, even with text on the line
            options["key_bindings"] = stop = KeyBindings()
            stop.add("c-d")(lambda event: event.app.exit(exception=EOFError()))
        try:
            # handle_sigint=False: chat's own Ctrl-C handler (stop the turn) must stay in place for
            # the call that follows; here the terminal is raw and Ctrl-C arrives as a key.
            # The terminal: a text file on its descriptor (chatcli.app.environment.open_terminal), or stdout.
            output = create_output(stdout=cast(TextIO, self.terminal))
            session: PromptSession[str] = PromptSession(input=self.prompt_input, output=output, **options)
            return await session.prompt_async(question, default=default, handle_sigint=False)
        except (KeyboardInterrupt, EOFError):
            if session.app.input.closed:  # the terminal closed, its hang-up maybe still on its way: no one answered
                os.kill(os.getpid(), signal.SIGHUP)  # stopped as a hang-up stops it: the question is left waiting
                await asyncio.sleep(5)  # (its handler cancels this; with none, SIGHUP ends chat, unless ignored)
            return _STOPPED

    def drop_typeahead(self) -> None:
        """Forget keys typed before the question (a stray Enter or y must not answer it), and say so."""
        from prompt_toolkit.keys import Keys

        self._judge = Deliberate()  # a new question: its keys are judged afresh
        if any(key.key != Keys.CPRResponse for key in self._take_typed()):  # a cursor report is no typing
            self._judge.dropped(_now())
            self.say("(keys typed before the question are not taken as an answer)")

    async def _quiet(self) -> None:
        """Wait until the user has stopped typing (keys dropped as the question appeared were a message on its
        way): what is typed meanwhile is the rest of it, dropped too, so the answer's line starts empty."""
        judge = self._judge
        while judge.last is not None and (left := judge.last + judge.gap - _now()) > 0:
            await asyncio.sleep(left)
            if self._take_typed():
                judge.dropped(_now())

    def _take_typed(self) -> list[KeyPress]:
        """Take and return the keys typed but not yet read: prompt-toolkit's type-ahead store (read with
        the last line, e.g. "question⏎y" typed at once) and what the terminal holds."""
        from prompt_toolkit.input import create_input
        from prompt_toolkit.input.typeahead import get_typeahead

        from chatcli.ui.typeahead import held, keys_of

        dropped: list[KeyPress] = []
        with contextlib.suppress(Exception):  # no terminal input to have read ahead on
            dropped = get_typeahead(self.prompt_input if self.prompt_input is not None else create_input())
        with contextlib.suppress(OSError, ValueError, termios.error):  # not a terminal: nothing was typed ahead there
            if typed := held(self.stdin_fd):
                dropped += keys_of(typed)
            termios.tcflush(self.stdin_fd, termios.TCIFLUSH)
        return dropped
