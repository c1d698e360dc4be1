"""What a lone word on the command line most likely meant: the words people type for a command (``help``, ``ls``)
and the near misses of a command's name (``treads``)."""

from chatcli.app.flags import COMMANDS
from chatcli.core.inputs import one_edit

# Words people type for a command (from other tools' habits), and the command that does it.
MEANT = {
    "help": "chat --help",
    **dict.fromkeys(("list", "ls", "thread"), "chat threads"),
    "history": "chat show (the last thread) or chat threads",
    "log": "chat show",
    **dict.fromkeys(("delete", "remove", "del"), "chat rm ID"),
    "version": "chat --version",
    "new": "chat --new-thread ID QUESTION",
    "continue": "chat -c",
    "resume": "chat -c, or chat -t ID",
    "clear": "chat --new-thread ID, or /clear at the prompt",
    **dict.fromkeys(("find", "grep"), "chat search TEXT"),
    "rename": "chat title ID TEXT",
    "model": "chat models",
}


def meant_command(word: str) -> str | None:
    """The command a lone word on the command line most likely meant (``treads``, ``help``), or None."""
    lowered = word.strip().lower()
    if lowered in MEANT:
        return MEANT[lowered]
    if len(lowered) < 4:
        return None
    # `treads`; `histroy` too, but no short word's near miss (`last`, `anew` are questions, not `list`, `new`)
    near = [c for c in (*COMMANDS, *(m for m in MEANT if len(m) > 6)) if c != "ask" and one_edit(lowered, c)]
    return (MEANT.get(near[0]) or f"chat {near[0]}") if near else None
