"""MCP prompts as slash commands: ``/mcp__SERVER__PROMPT arg…`` (in order, or ``name=value``); the
prompt's messages are sent as the question. Resources are mentioned in a question (``@SERVER:URI``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.config import Settings
from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.core.events import TurnResult
    from chatcli.service.thread import Thread
    from chatcli.tools.listing import PromptEntry
    from chatcli.tools.toolbox import Toolbox

# How long a prompt command waits for MCP servers still starting.
SERVER_WAIT = 30.0


def is_prompt_command(text: str) -> bool:
    from chatcli.tools.context import PREFIX

    return text.lstrip().startswith(PREFIX)


async def ask_prompt(conversation: Thread, line: str, settings: Settings) -> TurnResult:
    """Fill the prompt ``line`` names with its arguments and send what it gives, as a question."""
    from chatcli.tools.context import prompt_question
    from chatcli.ui.reply import ask

    toolbox = conversation.toolbox
    if toolbox is None:
        raise UsageError(f"unknown command {line.strip().partition(' ')[0][:60]}: tools are off for this session")
    await toolbox.settle(SERVER_WAIT)
    return await ask(conversation, await prompt_question(toolbox, line), settings)


def prompt_entries(toolbox: Toolbox | None) -> list[PromptEntry]:
    from chatcli.tools.context import prompts

    return prompts(toolbox) if toolbox is not None else []


def prompt_help(toolbox: Toolbox | None) -> list[str]:
    """The /help lines of the MCP prompts (none before the servers are ready)."""
    entries = prompt_entries(toolbox)
    if not entries:
        return []
    rows = [(f"{p.command} {p.synopsis}".strip(), p.description or "an MCP prompt") for p in entries]
    width = max(len(usage) for usage, _ in rows)
    return ["MCP prompts (arguments in order, or name=value; @SERVER:URI in a question attaches a resource):"] + [
        f"  {usage.ljust(width)}  {text}" for usage, text in rows
    ]
