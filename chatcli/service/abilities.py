"""What a command may need of the thread it runs on: a leaf of the service, read by the backends (which say what
their threads can do) and by the command registry (chatcli.service.commands, which filters by it)."""

import enum


class Ability(enum.Enum):
    """What a command may need of the thread it runs on."""

    KEPT = "kept"  # chat keeps the thread and runs it (its database): not an Agent Server's, which keeps its own
    PROMPT = "prompt"  # chat's own prompt, model and memory: not a graph's, which builds and keeps its own
