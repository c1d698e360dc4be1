"""The client side of the official MCP conformance suite (``@modelcontextprotocol/conformance``): what a user of the
installed ``chat`` does with the suite's server, one scenario at a time.

The suite runs ``python tests/mcp/conformance_client.py URL`` with ``MCP_CONFORMANCE_SCENARIO`` (and, for some,
``MCP_CONFORMANCE_CONTEXT``) set; ``.ci/mcp-conformance`` runs every client scenario so. Here the server is put in a
fresh ``mcp.json`` as ``conf``, and the user:

1. signs in when the server asks for it (``chat mcp login conf --no-browser``, this script as the browser: it opens
   the address chat prints and follows the redirects back to chat);
2. lists what the server offers (``chat tools --refresh --json``);
3. asks what tools the model has, then a question whose answer calls each of them once (``chat --yes``), the model
   being tests/fakeserver.py's fake, told to call them with arguments made from the schemas it was sent; at a
   terminal, where a call that needs more access (a step-up) shows a sign-in address this script opens.

The suite's context (``client_id``, ``private_key_pem``, ``idp_id_token``...) becomes the server's ``oauth`` object in
mcp.json key for key, camel-cased (``clientId``, ``privateKeyPem``, ``idpIdToken``): what a user would write there.

Each step's output goes to stderr (the suite keeps it); the exit code is the last step's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))

from chatcli.tools.mcp.config import OAUTH_KEYS  # noqa: E402
from tests.fakeserver import FakeOpenAIServer, Reply, tool_calls  # noqa: E402

CHAT = str(Path(sys.executable).with_name("chat"))
# Where .ci/mcp-conformance keeps a process that imported chat once (tests/mcp/warm.py, the era "chat"): a step's
# ``chat ARGS`` is forked from it, run as chat's warm worker runs a one-shot, in this script's environment, folder and
# pipes. What is tested is the MCP client, not how a process starts; the step at a terminal is ``chat`` itself.
WARM = os.environ.get("CHATCLI_CONFORMANCE_WARM")
STARTED = [sys.executable, "-S", str(HERE / "tests" / "mcp" / "warm.py"), WARM, CHAT] if WARM else [CHAT]
NAME = "conf"
# The address of the client ID metadata document a user of chat publishes (config.toml's mcp_client_metadata_url):
# the suite's own stand-in for it (its example client's), the client ID its authorization servers expect where they
# offer documents (auth/basic-cimd); where one does not, chat registers dynamically as before.
DOCUMENT = "https://conformance-test.local/client-metadata.json"
WAIT = 180  # seconds a step may take: the suite runs every scenario at once


def camel(key: str) -> str:
    """The suite's context key (``client_id``) as mcp.json spells it (``clientId``)."""
    first, *rest = key.split("_")
    return first + "".join(part.title() for part in rest)


def environment(home: Path, server: FakeOpenAIServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        OPENAI_BASE_URL=server.base_url,
        OPENAI_API_KEY="sk-conformance",
        CHATCLI_MODEL="gpt-fake",
        CHATCLI_WORKER="0",
        CHATCLI_MAX_RETRIES="0",
    )
    return env


def step(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``chat ARGS`` with no stdin (the suite leaves its own open), said on stderr."""
    done = subprocess.run(
        [*STARTED, *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=WAIT
    )
    print(f"$ chat {' '.join(args)}  (exit {done.returncode})\n{done.stdout}{done.stderr}", file=sys.stderr)
    return done


def sign_in(env: dict[str, str]) -> int:
    """``chat mcp login conf --no-browser``, this script opening the address it prints as a browser would."""
    process = subprocess.Popen(
        [*STARTED, "mcp", "login", NAME, "--no-browser"], env=env, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:  # every address it shows (a step-up signs in again)
        print(line, end="", file=sys.stderr)
        address = line.strip()
        if address.startswith(("http://", "https://")):
            browse(address)
    return process.wait(WAIT)


def browse(address: str) -> None:
    """What the user's browser does with a sign-in address: follows it, its redirects leading back to chat."""
    try:
        with urllib.request.urlopen(address, timeout=WAIT) as page:
            page.read()
    except OSError as exc:
        print(f"the browser: {exc}", file=sys.stderr)


def sample(schema: dict[str, Any]) -> Any:
    """A value that fits a JSON schema, as a model would make one: its default or first example, else a plain one."""
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: sample(sub) for name, sub in properties.items() if name in schema.get("required", properties)}
    return {"integer": 1, "number": 1, "boolean": True, "array": []}.get(str(kind), "text")


def main() -> int:
    url = sys.argv[-1]
    context = os.environ.get("MCP_CONFORMANCE_CONTEXT", "")
    print(
        f"scenario {os.environ.get('MCP_CONFORMANCE_SCENARIO')}, server {url}, context {context or '{}'}",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="chat-conformance-") as work, FakeOpenAIServer() as server:
        home = Path(work)
        env = environment(home, server)
        config = home / ".config" / "chatcli"
        config.mkdir(parents=True)
        (config / "config.toml").write_text(f'mcp_client_metadata_url = "{DOCUMENT}"\n')
        entry: dict[str, Any] = {"type": "http", "url": url}
        given = json.loads(context or "{}")
        oauth = {camel(key): value for key, value in given.items() if camel(key) in OAUTH_KEYS}
        if oauth:  # a client registered by hand, as the user writes it in mcp.json (readable by them alone)
            entry["oauth"] = oauth
        (config / "mcp.json").write_text(json.dumps({"mcpServers": {NAME: entry}}))
        (config / "mcp.json").chmod(0o600)
        listed = step(env, "tools", "--refresh", "--json")
        if listed.returncode != 0 or "chat mcp login" in listed.stdout + listed.stderr:
            if sign_in(env) != 0:
                return 1
            listed = step(env, "tools", "--refresh", "--json")
        try:
            servers = json.loads(listed.stdout)
        except ValueError:
            return listed.returncode or 1
        if not any(tool for entry in servers if entry.get("server") == NAME for tool in entry.get("tools", [])):
            return listed.returncode
        # The model reads the tools it is offered (their schemas), then calls each of them once.
        server.queue(Reply("Which tool?"))
        looked = step(env, "--yes", "what tools do you have?")
        offered = [t["function"] for t in (server.requests[-1].get("tools") if server.requests else None) or []]
        if looked.returncode != 0 or not offered:
            return looked.returncode or 1
        server.queue(tool_calls(*[(t["name"], sample(t.get("parameters") or {})) for t in offered]), Reply("done"))
        return at_a_terminal(env, "--yes", "-t", thread(looked), "use each of them once")


# A question at the terminal (chatcli.ui.approval) is a prompt-toolkit prompt: it turns bracketed paste on as it
# starts reading keys.
READY = "\x1b[?2004h"


# What chat shows at a terminal where a server asks for a sign-in (a step-up): the address on the next line.
SIGN_IN = re.compile(r"to sign in:\r?\n\s*(https?://\S+)")


def at_a_terminal(env: dict[str, str], *args: str) -> int:
    """``chat ARGS`` in a pseudo-terminal, as the user who answers a server's question (``y``, once they have read
    it) and then takes each field's default (Enter), and opens the address of a sign-in chat shows."""
    import time

    import pexpect

    from chatcli.ui.deliberate import GAP

    child = pexpect.spawn(CHAT, list(args), env=env, encoding="utf-8", dimensions=(40, 200), timeout=WAIT)
    shown, keys = [], "y"
    try:
        while (seen := child.expect([re.escape(READY), SIGN_IN, pexpect.EOF])) != 2:
            shown.append(child.before + (child.after if seen == 1 else ""))
            if seen == 1:
                browse(child.match.group(1))
                continue
            time.sleep(GAP + 0.25)  # a key pressed on its own, after reading: chatcli.ui.deliberate
            child.send(keys)
            keys = "\r"
        shown.append(child.before)
    finally:
        print(f"$ chat {' '.join(args)}  (at a terminal)\n{''.join(shown)}", file=sys.stderr)
        child.close()
    return child.exitstatus if child.exitstatus is not None else 1


def thread(run: subprocess.CompletedProcess[str]) -> str:
    """The thread a one-shot said it asked in."""
    for line in run.stderr.splitlines():
        if line.startswith("thread: "):
            return line.split()[1]
    raise SystemExit("the one-shot named no thread")


if __name__ == "__main__":
    sys.exit(main())
