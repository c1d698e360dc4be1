"""Every byte chat writes to stdout or stderr passes one writer (chatcli.text: ``say``, ``show`` and
the rich Consoles on ``TerminalFile``), which shows control sequences instead of letting the terminal
obey them. Read from the source: a write anywhere else fails here, as does a rich Console on a raw stream.
"""

from __future__ import annotations

import ast

from tests.codebase import PACKAGE, parsed

WRITER = "text.py"
# The writes that reach no terminal, each with what it writes to. Anything else must pass the writer.
NOT_A_TERMINAL = {
    ("ui/editor.py", "handle.write"): "the temporary file the editor opens",
    ("service/jobs.py", "handle.write"): "a background reply's stdin and record, files of the user's",
    ("ui/commands/threads.py", "handle.write"): "/export FILE: a new file of the user's",
    ("tools/mcp/transport.py", "self._log.write"): "a stdio MCP server's log file",
    ("tools/mcp/host.py", "self.log.write"): "the MCP host's log file (its stderr: mcp-host.log)",
    ("tools/mcp/host.py", "writer.write"): "the MCP host's socket to a caller (JSON lines)",
    ("tools/mcp/link.py", "self._writer.write"): "the socket to the MCP host (JSON lines)",
    ("tools/mcp/link.py", "writer.write"): "the socket to the MCP host: its status asked first (JSON lines)",
    ("local/server.py", "log.write"): "the local model server's log file",
    ("tools/mcp/oauth.py", "writer.write"): "chat mcp login's answer to the browser's redirect (fixed text)",
    ("local/server.py", "writer.write"): "the HTTP request that asks the local model server if it is up",
    ("tools/kept_files.py", "out.write"): "a tool result's binary part, kept as a new 0600 file under the thread",
    ("ui/clipboard.py", "terminal.write"): "/copy: OSC 52 with base64 text, the one sequence chat sends on purpose",
    ("ui/notify.py", "terminal.write"): "OSC 9, a desktop notification: a neutralised line of chat's own (notify)",
    ("app/acp_commands.py", "writer.write"): "chat acp's protocol stream: a JSON-RPC error line (json.dumps, ASCII)",
    ("app/worker/server.py", "os.write"): "the pipe that tells the warm worker's starter it listens",
    ("api/access.py", "handle.write"): "chat serve's token, made into a new 0600 file of the user's",
    ("tools/hooks.py", "stdin.write"): "a hook's event JSON, into the temporary file that is its stdin",
    ("paths.py", "handle.write"): "write_private: a file of the user's, 0600, replaced whole",
    ("app/worker/jobs.py", "os.write"): "the job-control channel to the caller (os.write kept, then checked)",
    (
        "app/worker/jobs.py",
        "io.FileIO.write",
    ): "under the worker's child's sys.stdout and sys.stderr: text that passed the writer",
}
# Functions that print: the builtins, click's and typer's, the traceback module's, os.write.
PRINTING = {"print", "input", "echo", "secho", "print_exc", "print_exception", "print_tb", "print_stack", "pprint"}
# Objects whose ``print`` is chat's own writer: a command's Context (ctx.print: ``say``) and rich
# Consoles, which this test makes sure are all built on TerminalFile or an in-memory buffer.
PRINTS_THROUGH_THE_WRITER = ("ctx", "console", "self.console", "self.err_console", "terminal_console(out)")
# Library calls that write a fixed text of chat's own (no data, no server's words).
FIXED_QUESTIONS = {("app/thread_commands.py", "typer.confirm")}


def sources() -> dict[str, ast.Module]:
    return {str(p.relative_to(PACKAGE)): parsed(p) for p in sorted(PACKAGE.rglob("*.py"))}


def direct_writes(name: str, tree: ast.Module) -> list[str]:
    """Where ``tree`` writes to a stream other than through the writer, as "file:line what"."""
    found = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Attribute) and node.attr in ("write", "writelines"):
            key = (name, ast.unparse(node))
            if key not in NOT_A_TERMINAL:
                found.append(f"{where} {key[1]}")
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
            if called == "print" and owner in PRINTS_THROUGH_THE_WRITER:
                continue
            if called in PRINTING or (owner == "os" and called in ("write", "writev")):
                if (name, ast.unparse(func)) not in NOT_A_TERMINAL:
                    found.append(f"{where} {ast.unparse(func)}()")
            elif called in ("confirm", "prompt") and owner in ("typer", "click"):
                if (name, f"{owner}.{called}") not in FIXED_QUESTIONS:
                    found.append(f"{where} {ast.unparse(func)}()")
            elif called == "Console" and not _on_the_writer(node):
                found.append(f"{where} a rich Console on {_file_of(node)}")
    return found


def _file_of(call: ast.Call) -> str:
    return next((ast.unparse(k.value) for k in call.keywords if k.arg == "file"), "stdout (no file=)")


def _on_the_writer(call: ast.Call) -> bool:
    """A Console built on TerminalFile (its writes pass the writer) or on an in-memory buffer (no terminal);
    ``cast(IO[str], TerminalFile(...))`` is TerminalFile's (the cast only tells the type checker)."""
    file = next((k.value for k in call.keywords if k.arg == "file"), None)
    if isinstance(file, ast.Call) and ast.unparse(file.func) == "cast" and len(file.args) == 2:
        file = file.args[1]
    return isinstance(file, ast.Call) and ast.unparse(file.func) in ("TerminalFile", "io.StringIO")


def test_nothing_writes_to_a_stream_but_the_one_writer():
    found = [line for name, tree in sources().items() if name != WRITER for line in direct_writes(name, tree)]
    assert found == [], "writes that do not pass chatcli.text.say/show:\n" + "\n".join(found)


def test_the_allowed_writes_still_exist():
    """An entry of NOT_A_TERMINAL that matches nothing any more is removed, not left to excuse a new write."""
    trees = sources()
    present = {
        (name, ast.unparse(node))
        for name, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "write"
    }
    assert set(NOT_A_TERMINAL) <= present, set(NOT_A_TERMINAL) - present


def test_the_check_finds_each_way_of_writing():
    """The check itself: each of these is a write that skips the writer."""
    source = """
import os, sys, traceback, typer, click
from rich.console import Console
sys.stderr.write("x")
sys.stdout.writelines(["x"])
out = sys.stdout.write
print("x")
typer.echo("x")
click.echo("x", err=True)
traceback.print_exc()
os.write(2, b"x")
Console().print("x")
Console(file=sys.stderr)
env.stdout.write("x")
self.err.write("x")
"""
    found = direct_writes("app/example.py", ast.parse(source))
    flagged = {int(line.split()[0].rpartition(":")[2]) for line in found}
    assert flagged == set(range(4, 16)), found  # each line of the source after the imports
