"""Where the time goes when chat starts MCP servers: a timeline of one-shot and REPL runs.

Run (the Python of the environment where chatcli is installed)::

    .venv/bin/python benchmarks/tools_timeline.py            # 5 runs of each, ~40 s
    .venv/bin/python benchmarks/tools_timeline.py --runs 9

Runs chat with the three bars.py servers of ``bench.py``'s row 7 (``tests/mcp/bars.py`` over
stdio) against the in-process fake server, as a one-shot ``chat "question" | cat`` and as a REPL
in a pseudo-terminal with ``hi`` typed the moment the prompt shows. chat runs in a child Python
that wraps a few of chatcli's functions from the outside (nothing in chatcli is changed) to
write a timestamp and the child's CPU time when each step starts and ends; the fake server
adds the arrival of the chat request. Prints, per step, the median seconds since spawn; then the no-tools one-shot
alone, the three servers' own start alone (``bench.mcp_servers_floor``) and both side by side
-- about what chat could reach if it started the servers at launch.

The wrappers add a little time of their own (the child imports ``chatcli.service.chat``
first, and ``chatcli.ui.prompt`` for the REPL), so the totals run a few tens of milliseconds
over ``bench.py``'s; the steps' order and lengths are what this is for.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ME = str(Path(__file__).resolve())


# ------------------------------------------------------------------------------- the child


def child(argv: list[str]) -> int:
    """Run chat with timestamps on its MCP path (written as JSON lines to $TL_LOG)."""
    log = open(os.environ["TL_LOG"], "a", encoding="utf-8")  # noqa: SIM115 - open until exit

    def mark(what: str) -> None:
        log.write(json.dumps({"t": time.time(), "cpu": time.process_time(), "what": what}) + "\n")
        log.flush()

    mark("child python running")
    from chatcli.local.runtime import install

    install()  # as the chat entry point does, before anything imports LangChain
    import chatcli.service.chat as session
    import chatcli.tools.mcp.server as mcp
    import chatcli.tools.toolbox as toolbox

    def around_cm(owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name)

        @contextlib.asynccontextmanager
        async def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            mark(f"{label}: enter")
            async with inner(*args, **kwargs) as value:
                mark(f"{label}: entered")
                yield value

        setattr(owner, name, wrapped)

    def around(owner: object, name: str, label: str) -> None:
        inner = getattr(owner, name)

        async def wrapped(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            mark(f"{label}: start")
            try:
                return await inner(*args, **kwargs)
            finally:
                mark(f"{label}: done")

        setattr(owner, name, wrapped)

    around_cm(session, "open_conversation", "open_conversation")
    around_cm(session, "open_toolbox", "open_toolbox")
    around(mcp.McpServer, "_run", "server task (imports the MCP client, then runs the server)")
    around_cm(mcp.McpServer, "_streams", "stdio streams (spawns the server)")
    around(toolbox.Toolbox, "settle", "graph waits for the servers (settle)")
    around(toolbox.Toolbox, "aclose", "servers stopped (aclose)")
    inner_session = mcp.McpServer._session

    @contextlib.asynccontextmanager
    async def session_cm(self):  # noqa: ANN001, ANN202
        async with inner_session(self) as client:
            initialize = client.initialize

            async def timed_initialize(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                result = await initialize(*args, **kwargs)
                mark("server answered initialize")
                return result

            client.initialize = timed_initialize
            yield client

    mcp.McpServer._session = session_cm
    if os.environ.get("TL_REPL"):
        import chatcli.ui.prompt as prompt

        engine = prompt._import_engine

        def import_engine(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            mark("REPL engine import thread: start")
            try:
                return engine(*args, **kwargs)
            finally:
                mark("REPL engine import thread: done")

        prompt._import_engine = import_engine
    from chatcli.app.cli import main

    sys.argv = ["chat", *argv]
    code = main()
    mark("chat main returned")
    return code


# ------------------------------------------------------------------------------ the parent


def parent(runs: int) -> int:
    sys.path.insert(0, str(HERE))
    import bench  # benchmarks/bench.py

    work = Path(tempfile.mkdtemp(prefix="chatcli-timeline-"))
    try:
        return _measure(bench, work, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(bench: Any, work: Path, runs: int) -> int:
    command = [bench.PY, ME, "--child"]
    timelines: dict[str, list[dict[str, float]]] = {"one-shot": [], "REPL": []}
    with bench.FakeOpenAIServer(default_reply=bench.REPLY) as server, bench.chat_requests(server) as arrivals:
        homes = bench.tools_homes(work)
        env = bench.chat_env(server.base_url, homes["mcp"])
        bench.timed_run([bench.CHAT, "warm up"], env=env, cwd=work)  # creates the database and dirs
        for i in range(runs):
            for kind in ("one-shot", "REPL"):
                path = work / f"tl-{kind}-{i}.jsonl"
                run_env = dict(env, TL_LOG=str(path), **({"TL_REPL": "1"} if kind == "REPL" else {}))
                arrivals.clear()
                server.clear()
                spawn_wall = time.time()
                if kind == "one-shot":
                    t0 = time.perf_counter()
                    proc = subprocess.run(
                        [*command, bench.ONESHOT_QUESTION],
                        env=run_env,
                        cwd=work,
                        capture_output=True,
                        stdin=subprocess.DEVNULL,
                    )
                    steps = {"process exited": time.perf_counter() - t0}
                    if proc.returncode != 0 or bench.END_MARK not in proc.stdout.decode():
                        raise RuntimeError(f"one-shot: exit {proc.returncode}: {proc.stderr.decode()[-400:]}")
                else:
                    chat = bench.PtyChat([], run_env, work, command=command)
                    t0 = chat.start
                    try:
                        steps = {"REPL prompt drawn": chat.wait_for(bench.prompt_shown)}
                        chat.send(b"hi\r")
                        steps["REPL answer on screen"] = chat.wait_for(bench.answered)
                    finally:
                        chat.close()
                if bench.tools_sent(server) != 5 * bench.N_SERVERS:
                    raise RuntimeError(f"{kind}: the request offered {bench.tools_sent(server)} tools")
                steps["fake server: chat request arrived"] = arrivals[0] - t0
                firsts: dict[str, tuple[float, float]] = {}
                lasts: dict[str, tuple[float, float]] = {}
                for line in path.read_text().splitlines():
                    event = json.loads(line)
                    at = (event["t"] - spawn_wall, event["cpu"])
                    firsts.setdefault(event["what"], at)
                    lasts[event["what"]] = at
                for what, at in firsts.items():
                    if what.startswith(("server task", "stdio streams", "server answered")) and lasts[what] != at:
                        steps[f"{what} (first)"] = at[0]
                        steps[f"{what} (last)"] = lasts[what][0]
                    else:
                        steps[what] = at[0]
                cpu = {what: at[1] for what, at in lasts.items()}
                steps["child CPU until the last server answered initialize"] = cpu.get(
                    "server answered initialize", float("nan")
                )
                steps["child CPU when the MCP servers were spawned (last)"] = lasts.get(
                    "stdio streams (spawns the server): entered", (0, float("nan"))
                )[1]
                steps["child CPU when the server tasks began"] = firsts.get(
                    "server task (imports the MCP client, then runs the server): start", (0, float("nan"))
                )[1]
                timelines[kind].append(steps)
        # What a design that starts the servers at launch could reach on this machine: the
        # no-tools one-shot and the three servers' own start (bench.py's floor) run side by side.
        env_none = bench.chat_env(server.base_url, homes["none"])
        bench.timed_run([bench.CHAT, "warm up"], env=env_none, cwd=work)
        overlap: dict[str, list[float]] = {"alone": [], "side by side": [], "servers alone": []}
        for _ in range(runs):
            overlap["alone"].append(bench.timed_run([bench.CHAT, bench.ONESHOT_QUESTION], env=env_none, cwd=work)[0])
            overlap["servers alone"].append(bench.mcp_servers_floor(bench.N_SERVERS)[0])
            t0 = time.perf_counter()
            servers = threading.Thread(target=bench.mcp_servers_floor, args=(bench.N_SERVERS,))
            servers.start()
            bench.timed_run([bench.CHAT, bench.ONESHOT_QUESTION], env=env_none, cwd=work)
            servers.join()
            overlap["side by side"].append(time.perf_counter() - t0)
    for kind, runs_steps in timelines.items():
        print(f"\n{kind} with {bench.N_SERVERS} MCP servers: median seconds since spawn over {len(runs_steps)} runs")
        order = sorted(
            runs_steps[0], key=lambda w: (w.startswith("child CPU"), statistics.median(r.get(w, 0) for r in runs_steps))
        )
        for what in order:
            values = [r[what] for r in runs_steps if what in r]
            print(f"  {statistics.median(values):6.3f}  {what}")
    print(
        f"\nno-tools one-shot and the {bench.N_SERVERS} servers' start (raw JSON-RPC), median seconds over {runs} runs"
    )
    for what, values in overlap.items():
        print(f"  {statistics.median(values):6.3f}  {what}")
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="runs of each (default 5)")
    return parent(p.parse_args().runs)


if __name__ == "__main__":
    sys.exit(main())
