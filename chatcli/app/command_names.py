"""What a lone word on the command line most likely meant: the words people type for a command (``help``, ``ls``)
and the near misses of a command's name (``treads``)."""

from chatcli.app.flags import COMMANDS

# Words people type for a command (from other tools' habits), and the command that does it.
MEANT = {
    "help": "chat --help",
    "list": "chat threads",
    "ls": "chat threads",
    "thread": "chat threads",
    "history": "chat show (the last thread) or chat threads",
    "log": "chat show",
    "delete": "chat rm ID",
    "remove": "chat rm ID",
    "del": "chat rm ID",
    "version": "chat --version",
    "new": "chat --new-thread ID QUESTION",
    "continue": "chat -c",
    "resume": "chat -c, or chat -t ID",
    "clear": "chat --new-thread ID, or /clear at the prompt",
    "find": "chat search TEXT",
    "grep": "chat search TEXT",
    "rename": "chat title ID TEXT",
    "model": "chat models",
}


def _one_edit(a: str, b: str) -> bool:
    """``b`` is ``a`` with one character added, dropped or changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    short, long = sorted((a, b), key=len)
    i = next((i for i, (x, y) in enumerate(zip(short, long)) if x != y), len(short))
    if len(short) < len(long):
        return short[i:] == long[i + 1 :]
    return short[i + 1 :] == long[i + 1 :] or (
        short[i : i + 2] == long[i : i + 2][::-1] and short[i + 2 :] == long[i + 2 :]
    )


def meant_command(word: str) -> str | None:
    """The command a lone word on the command line most likely meant (``treads``, ``help``), or None."""
    lowered = word.strip().lower()
    if lowered in MEANT:
        return MEANT[lowered]
    if len(lowered) < 4:
        return None
    # `treads`; `histroy` too, but no short word's near miss (`last`, `anew` are questions, not `list`, `new`)
    near = [c for c in (*COMMANDS, *(m for m in MEANT if len(m) > 6)) if c != "ask" and _one_edit(lowered, c)]
    return (MEANT.get(near[0]) or f"chat {near[0]}") if near else None
