"""Which calls run without asking: the ``approve`` patterns of config.toml ("notes:search",
"notes:*", "files"), the tools the user allowed "always" during the session, and ``--yes``."""

from __future__ import annotations

import fnmatch
from typing import Any

from chatcli.tools import builtin


class ApprovalRules:
    """The approval rules of a session (a part of chatcli.tools.toolbox.Toolbox)."""

    approve: tuple[str, ...] = ()
    approve_all: bool = False
    allowed: set[str]
    host: builtin.Host

    def preapproved(self, entry: Any, arguments: Any = None) -> bool:
        """True if ``entry`` may run without asking: --yes, a config pattern, or "always" this session; the
        ``remember`` tool only by a pattern that names it.

        A files call is let through by a pattern or "always" only for a path inside the working
        directory (resolved, links followed); one outside, or with ``arguments`` unknown, is asked.
        """
        if entry.server == builtin.SERVER and entry.group == builtin.MEMORY:  # what every thread is told from now on:
            # only a pattern that names it (never --yes, a wildcard written for other tools, nor "always" this session)
            return any(p in (builtin.MEMORY, "remember", f"{builtin.SERVER}:remember") for p in self.approve)
        if self.approve_all:
            return True
        if (
            entry.server == builtin.SERVER
            and entry.group == "files"
            and not builtin.inside_workdir(arguments, self.host.workdir)
        ):
            return False
        if entry.label in self.allowed:
            return True
        key = f"{entry.server}:{entry.tool.name}"
        for pattern in self.approve:
            if ":" in pattern:
                if fnmatch.fnmatchcase(key, pattern):
                    return True
            elif entry.server == builtin.SERVER and pattern in (entry.group, entry.tool.name):
                return True
        return False

    def allow(self, entry: Any) -> None:
        """Run ``entry`` without asking for the rest of the session."""
        self.allowed.add(entry.label)
