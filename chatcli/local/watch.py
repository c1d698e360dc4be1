"""``python -m chatcli.local.watch PROGRAM ARGS...``: run a server that exits as soon as chat is gone.

PROGRAM (a module name, or a .py file) runs as ``__main__`` with ARGS; its stdin is a pipe
from chat, and a thread watching it ends the process when the pipe closes, however chat
ended (even killed). llama-cpp-python's server gets its settings from the command line only.
"""

from __future__ import annotations

import contextlib
import os
import sys

# llama-cpp-python's OpenAI-compatible server.
SERVER_MODULE = "llama_cpp.server"


def watch_parent(argv: list[str]) -> None:
    """Run PROGRAM (a module name, or a .py file) as ``__main__`` with ARGS, exiting when stdin closes."""
    import runpy
    import threading

    def watch() -> None:
        # The raw descriptor, not sys.stdin: a thread blocked inside a buffered reader would
        # abort the interpreter when the program exits on its own.
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    program, *args = argv
    if program == SERVER_MODULE:
        # llama.cpp's worker threads sleep rather than spin while they wait for each other:
        # as fast on an idle machine, twice as fast when other work shares the cores.
        # (Read when the library loads, so before anything imports it.)
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        _scrub_server_environment()
    sys.argv = [program, *args]
    if program.endswith(".py"):
        runpy.run_path(program, run_name="__main__")
    else:
        runpy.run_module(program, run_name="__main__", alter_sys=True)


def _scrub_server_environment() -> None:
    """Drop environment variables that llama-cpp-python's server would read as its settings.

    Its settings come from the environment too (``API_KEY`` would make it ask for a key chat
    does not send, ``CONFIG_FILE`` would replace the command line): chat's server is
    configured by chat's command line alone.
    """
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    names = {name.lower() for name in (*ModelSettings.model_fields, *ServerSettings.model_fields)}
    names.add("config_file")
    for variable in list(os.environ):
        if variable.lower() in names:
            del os.environ[variable]


if __name__ == "__main__":
    watch_parent(sys.argv[1:])
