"""The Typer view of the table of flags (chatcli.app.flags): ``chat [QUESTION]``'s parameters, one a row.

Shared with other commands where they mean the same: ``--db``, ``--debug``, ``--remote``, ``--assistant`` and
``--header`` (chatcli.app.shared, where a row's option is built), and those of ``chat acp`` (below).
"""

from __future__ import annotations

import inspect
from enum import Enum
from typing import Any, Callable, TypeVar

from chatcli.app.flags import ASK, Flag
from chatcli.app.shared import option

F = TypeVar("F", bound=Callable[..., Any])


def _annotation(flag: Flag) -> Any:
    """The type Typer reads a flag's value as: a switch's bool, a repeatable flag's list, else its value or None (an
    Enum of its choices, if it has some: Typer offers them and refuses any other)."""
    if flag.default is False:
        return bool
    if isinstance(flag.default, list):
        return list[str]
    if flag.choices:  # (mypy takes an Enum made by a call for a member of one, not a class)
        return Enum(flag.param.title(), [(c.replace("-", "_"), c) for c in flag.choices], type=str) | None  # type: ignore[operator]
    return str | None


def takes_the_flags(command: F) -> F:
    """``command``, which takes ``**given``, with one parameter for each row of the table, in its order: Typer
    builds ``chat [QUESTION]``'s options from them and hands the values over by name."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [inspect.Parameter(f.param, keyword, default=option(f.param), annotation=_annotation(f)) for f in ASK]
    setattr(command, "__signature__", inspect.Signature(parameters))
    return command


# The flags chat acp takes as chat [QUESTION] does.
MODEL, ROLE, TOOLS, NO_TOOLS, YES, LOCAL, GRAPH = map(option, "model role tools no_tools yes local graph".split())
