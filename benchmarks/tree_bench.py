"""Row 20: a thread's tree (``/tree``, ``chat tree ID --json``) on a thread of 1,000 turns with 50 branches, in SQLite
and PostgreSQL: its time, warm and cold, and the storage it adds.

The thread is made the real way, in a fresh database: the product's own ``Chat.thread`` against the fake
OpenAI-compatible server (tests/fakeserver.py, in this process, a short answer to every question), one model call
for each of the 1,000 nodes. 49 times, spread evenly over the thread, in turn: ``thread.retry()`` (the last question
answered again), ``thread.undo()`` and a new question, ``thread.goto(N)`` to a node 3-40 turns back on the thread's
branch and a new question; so the tree has 1,000 nodes and 50 branches (its leaves, as ``chat tree`` counts them; the
run fails otherwise). The history budget is row 3's 6,000 tokens (``context_tokens``): without it each request
carries the whole branch (600 nodes and more by the end), and the OpenAI SDK's request building alone took a turn at
node 1,000 to half a second (335 s to build the SQLite thread instead of about 165 s). The budget changes what a
request carries, not what is stored: the same messages, checkpoints and tree. What is left grows with the tree: each
turn reads it to name its node (``Thread._node``), about 60-100 ms at 1,000 nodes. Building takes about 3 minutes a
store on 2 cores.

Then, for each store:

- *warm*: ``await thread.tree()`` then ``draw(tree)`` in the same process as the thread (what ``/tree`` does),
  repeated; the median, and the median of each part: the two queries and their decoding (``index.tree_rows``), the
  labels' query, the rest of ``thread.tree()`` (building the tree from those rows) and ``draw``. Goal: under 100 ms.
- *cold*: ``chat tree ID --json`` as a whole process (stdout a pipe, read whole), round by round beside ``chat
  --version``, ``chat tree ID`` (drawn) and ``chat threads`` (a thread command that opens the same store and reads no
  tree), order rotated; ``CHATCLI_DB`` names the database, ``CHATCLI_WORKER=0``,
  a private HOME and XDG directories. Medians; the ratio to ``chat --version`` is the median of the per-round ratios
  (row 9's yardstick). chatcli's bytecode is written first (``compileall``), as a user's first run writes it: where
  PYTHONDONTWRITEBYTECODE is set each process would compile what it imports. And ``chat tree ID --json`` through
  the warm worker (``CHATCLI_WORKER=1``, a private runtime directory): what a script's run is by default, its output
  a pipe (chatcli.app.launch.READING). Goal: under 300 ms.
- *storage*: the rows of the checkpoint and message tables and the database's size, before and after every read of
  the tree above (nothing may change), then after labelling 10 nodes. SQLite: the file plus its ``-wal`` after
  ``PRAGMA wal_checkpoint(TRUNCATE)`` (as row 4), and the pages of ``chatcli_labels`` and its index (``dbstat``);
  PostgreSQL: ``pg_total_relation_size('chatcli_labels')`` and the sum over the database's tables, after a ``VACUUM``
  of the tables built (else autovacuum's maps, made in the middle of the reads, count as theirs). The labels are
  written as ``/label`` writes one (``store.index.label``): ``/label`` names the node the thread is on, and reaching
  each of 10 nodes with ``/goto`` would be a move of the thread, a checkpoint like any change of its state, not
  what the tree stores.

PostgreSQL: the server ``CHATCLI_TEST_PG`` names (a database of its own is made on it and dropped), else where
PostgreSQL's programs are installed a throwaway one (``.ci/postgres start``, stopped at the end), else skipped with a
note. Results go to ``benchmarks/results-tree.md``.

    .venv/bin/python benchmarks/tree_bench.py                 # about 7 minutes on 2 cores, both stores
    .venv/bin/python benchmarks/tree_bench.py --no-postgres   # SQLite alone
    .venv/bin/python benchmarks/tree_bench.py --turns 200 --branches 10 --runs 5   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from benchmarks.report import met, report  # noqa: E402
from tests.fakeserver import FakeOpenAIServer  # noqa: E402

CHAT = str(Path(sys.executable).with_name("chat"))
THREAD = "tree-bench"
WARM_GOAL, COLD_GOAL = 0.100, 0.300
LABELS = 10
# Row 3's history budget: each request carries the last ~6,000 tokens of the branch, not the whole branch.
HISTORY_BUDGET = 6000
KINDS = ("retry", "undo", "goto")
WORDS = (
    "how would the tide tables change if the moon were a little closer and what would that mean for harbours".split()
)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def question(i: int) -> str:
    """Question ``i``: about 100 characters, none the same."""
    return f"Question {i}: " + " ".join(WORDS[(i + k) % len(WORDS)] for k in range(14)) + "?"


def answer(messages: list[dict[str, Any]]) -> str:
    """The fake server's reply: short, naming the question it answers."""
    asked = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    text = asked.get("content")
    text = text if isinstance(text, str) else json.dumps(text)
    return f"An answer to {text[:24]!r}: the tides would be higher, and the harbours would need taller walls."


def settings_for(server: FakeOpenAIServer, work: Path, db: str) -> Any:
    from chatcli.config import Settings

    return Settings(
        model="gpt-fake",
        api_key="sk-bench-0123456789",
        base_url=server.base_url,
        db=db,
        history_file=str(work / "history"),
        max_retries=0,
        timeout=30.0,
        context_tokens=HISTORY_BUDGET,
    )


# ---- the stores


class SqliteDb:
    kind = "SQLite"

    def __init__(self, work: Path) -> None:
        self.path = work / "tree.db"
        self.url = str(self.path)

    def _conn(self) -> contextlib.closing[sqlite3.Connection]:
        return contextlib.closing(sqlite3.connect(self.path))

    def counts(self) -> dict[str, int]:
        with self._conn() as conn:
            return {
                t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("checkpoints", "writes", "chatcli_messages", "chatcli_threads", "chatcli_labels")
            }

    def size(self) -> int:
        """The file and its -wal, after a checkpoint that empties the -wal (row 4's measure)."""
        with self._conn() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def labels_size(self) -> int:
        """Bytes of the pages of chatcli_labels and its primary key's index."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT sum(d.pgsize) FROM dbstat d JOIN sqlite_schema s ON s.name = d.name "
                "WHERE s.tbl_name = 'chatcli_labels'"
            ).fetchone()
        return int(row[0] or 0)

    def settle(self) -> None:
        """Nothing to settle: the size is taken after a checkpoint of the WAL."""

    def close(self) -> None:
        pass


class PostgresDb:
    kind = "PostgreSQL"
    TABLES = (
        "checkpoints",
        "checkpoint_blobs",
        "checkpoint_writes",
        "chatcli_messages",
        "chatcli_threads",
        "chatcli_labels",
    )

    def __init__(self, admin_dsn: str) -> None:
        from urllib.parse import urlsplit, urlunsplit

        import psycopg

        self.admin = psycopg.connect(admin_dsn, autocommit=True)
        self.name = f"chatcli_tree_bench_{os.getpid()}"
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}"')
        self.admin.execute(f'CREATE DATABASE "{self.name}" TEMPLATE template0')
        self.url = urlunsplit(urlsplit(admin_dsn)._replace(path="/" + self.name))

    @contextlib.contextmanager
    def _conn(self) -> Iterator[Any]:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            yield conn

    def counts(self) -> dict[str, int]:
        with self._conn() as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in self.TABLES}

    def size(self) -> int:
        """Every table of the database with its indexes and TOAST (pg_total_relation_size), summed."""
        with self._conn() as conn:
            return int(
                conn.execute(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'"
                ).fetchone()[0]
            )

    def labels_size(self) -> int:
        with self._conn() as conn:
            return int(conn.execute("SELECT pg_total_relation_size('chatcli_labels')").fetchone()[0])

    def settle(self) -> None:
        """VACUUM the tables once built: else autovacuum may add a table's visibility map or free space map in the
        middle of the reads (+16 KB seen once), which the size before and after would count as the reads'."""
        with self._conn() as conn:
            conn.execute("VACUUM")

    def close(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


@contextlib.contextmanager
def postgres_server(work: Path) -> Iterator[str | None]:
    """A PostgreSQL server's admin DSN: CHATCLI_TEST_PG's, else a throwaway one (.ci/postgres), else None."""
    dsn = os.environ.get("CHATCLI_TEST_PG")
    if dsn:
        yield dsn
        return
    script = ROOT / ".ci" / "postgres"
    if not (shutil.which("initdb") and shutil.which("pg_ctl")) and not list(
        Path("/usr/lib/postgresql").glob("*/bin/initdb")
    ):
        yield None
        return
    where = tempfile.mkdtemp(prefix="chatcli-pg-")  # not under a private directory: the server runs as postgres
    done = subprocess.run([str(script), "start", where], capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        log(f"PostgreSQL did not start: {done.stderr.strip()[-300:]}")
        yield None
        return
    try:
        yield done.stdout.strip()
    finally:
        subprocess.run([str(script), "stop", where], capture_output=True, timeout=60)


# ---- the thread


async def build_thread(thread: Any, turns: int, branches: int) -> dict[str, int]:
    """Fill ``thread`` with ``turns`` nodes (one model call each) and ``branches`` leaves: ``branches - 1`` times,
    spread evenly, a retry, an undo and a new question, or a goto back on the branch and a new question."""
    moves = branches - 1
    at = {round((k + 1) * turns / (moves + 1)) for k in range(moves)}
    done: dict[str, int] = dict.fromkeys(KINDS, 0)
    path: list[int] = []  # the nodes of the branch the thread is on
    made = 0
    asked = 0
    start = time.perf_counter()
    while made < turns:
        if made in at and path:
            at.discard(made)
            kind = KINDS[sum(done.values()) % len(KINDS)]
            if kind == "goto" and len(path) < 4:
                kind = "retry"
            done[kind] += 1
            if kind == "retry":
                await thread.retry()
                made += 1
                path[-1] = made
                continue
            if kind == "undo":
                await thread.undo()
                path.pop()
            else:
                back = 3 + (done["goto"] * 7) % 38  # 3 to 40 turns back
                target = path[max(0, len(path) - 1 - back)]
                await thread.goto(str(target))
                del path[path.index(target) + 1 :]
        asked += 1
        await thread.send(question(asked))
        made += 1
        path.append(made)
        if made % 100 == 0:
            log(f"  {made} nodes, {time.perf_counter() - start:.0f} s")
    return done


async def warm(thread: Any, runs: int) -> dict[str, float]:
    """Medians of ``runs`` reads of the tree and draws: whole (``thread.tree()`` + ``draw``), and by part, each timed
    on its own in the same round: the two queries and their decoding (``index.tree_rows``), the labels
    (``index.labels``), the rest of ``thread.tree()`` (building the tree from those rows) and ``draw``."""
    from chatcli.threads.tree import draw

    whole: list[float] = []
    parts: dict[str, list[float]] = {"rows": [], "labels": [], "build": [], "draw": []}
    index = thread.store.index
    for _ in range(runs):
        t0 = time.perf_counter()
        tree = await thread.tree()
        t1 = time.perf_counter()
        draw(tree)
        t2 = time.perf_counter()
        await index.tree_rows(thread.thread_id)
        t3 = time.perf_counter()
        await index.labels(thread.thread_id)
        t4 = time.perf_counter()
        whole.append(t2 - t0)
        parts["rows"].append(t3 - t2)
        parts["labels"].append(t4 - t3)
        parts["build"].append(max(0.0, (t1 - t0) - (t4 - t2)))
        parts["draw"].append(t2 - t1)
    return {"whole": statistics.median(whole), **{k: statistics.median(v) for k, v in parts.items()}}


# ---- the command


def command_env(work: Path, db_url: str) -> dict[str, str]:
    home = work / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATCLI_", "OPENAI_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        CHATCLI_DB=db_url,
        CHATCLI_WORKER="0",
    )
    return env


def worker_env(env: dict[str, str], work: Path) -> dict[str, str]:
    """``env`` with the warm worker on (waited for), its socket in a private runtime directory of the run's own."""
    runtime = work / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {**env, "CHATCLI_WORKER": "1", "XDG_RUNTIME_DIR": str(runtime)}


def run(args: list[str], env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run([CHAT, *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"chat {' '.join(args)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return wall, done.stdout


def cold(env: dict[str, str], work: Path, runs: int, turns: int, branches: int) -> dict[str, Any]:
    """``chat --version``, ``chat tree ID --json`` and ``chat tree ID``, with the worker off, and ``chat tree ID
    --json`` through the warm worker (what a script's run is by default), rotated round by round: medians, and the
    medians of the per-round ratios to ``chat --version``."""
    warm = worker_env(env, work)
    commands = {
        "version": (["--version"], env),
        "json": (["tree", THREAD, "--json"], env),
        "drawn": (["tree", THREAD], env),
        "threads": (["threads"], env),
        "worker": (["tree", THREAD, "--json"], warm),
    }
    _, out = run(*commands["json"])  # warm-up, and the check that it is the tree built
    tree = json.loads(out)
    if len(tree["nodes"]) != turns or tree["branches"] != branches:
        raise SystemExit(f"chat tree --json gave {len(tree['nodes'])} nodes, {tree['branches']} branches")
    try:
        for name in ("drawn", "threads", "version"):
            run(*commands[name])
        if run(*commands["worker"])[1] != out:  # it starts the worker and waits for it
            raise SystemExit("chat tree --json through the worker printed another tree")
        times: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for r in range(runs):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                times[name].append(run(*commands[name])[0])
    finally:
        subprocess.run([CHAT, "worker", "stop"], env=warm, capture_output=True, timeout=60)
    ratio = {
        name: statistics.median(a / b for a, b in zip(times[name], times["version"]))
        for name in ("json", "drawn", "threads", "worker")
    }
    return {"median": {k: statistics.median(v) for k, v in times.items()}, "ratio": ratio, "bytes": len(out)}


def bytecode() -> None:
    """Bytecode for the chatcli that ``chat`` runs, as a user's first run writes it (never written where
    PYTHONDONTWRITEBYTECODE is set: each process would compile the modules it imports)."""
    import compileall

    import chatcli

    compileall.compile_dir(str(Path(chatcli.__file__).parent), quiet=1)


def revision() -> str:
    """The commit of the checkout measured, and whether chatcli/ differs from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    changed = subprocess.run([*git, "status", "--porcelain", "--", "chatcli"], capture_output=True, text=True).stdout
    return f"commit {head or '?'}" + (" with chatcli/ changed" if changed.strip() else "")


# ---- one store


async def bench_store(db: Any, server: FakeOpenAIServer, work: Path, options: argparse.Namespace) -> dict[str, Any]:
    from chatcli.service.chat import Chat
    from chatcli.threads.tree import draw

    log(f"{db.kind}: building a thread of {options.turns} nodes and {options.branches} branches")
    start = time.perf_counter()
    async with Chat(settings_for(server, work, db.url)) as chat:
        await chat.open(tools=False)
        thread = await chat.thread(THREAD)
        moves = await build_thread(thread, options.turns, options.branches)
        built = time.perf_counter() - start
        server.requests.clear()
        tree = await thread.tree()
        if len(tree.nodes) != options.turns or tree.branches != options.branches:
            raise SystemExit(f"the thread's tree has {len(tree.nodes)} nodes and {tree.branches} branches")
        head = draw(tree)[0]
        log(f"{db.kind}: built in {built:.0f} s ({moves}); {head}")
        db.settle()
        counts0, size0 = db.counts(), db.size()
        log(f"{db.kind}: warm /tree, {options.warm_runs} runs")
        hot = await warm(thread, options.warm_runs)
        log(f"{db.kind}: chat tree --json, {options.runs} rounds")
        env = command_env(work, db.url)
        procs = cold(env, work, options.runs, options.turns, options.branches)
        counts1, size1 = db.counts(), db.size()
        labels0 = db.labels_size()
        numbers = sorted(tree.nodes)
        for k in range(LABELS):  # as /label writes one
            await thread.store.index.label(THREAD, numbers[k * len(numbers) // LABELS], f"mark-{k + 1}")
        counts2, size2, labels2 = db.counts(), db.size(), db.labels_size()
        labelled = sum(len(n.labels) for n in (await thread.tree()).nodes.values())
        if labelled != LABELS:
            raise SystemExit(f"{labelled} labels in the tree, {LABELS} given")
    return {
        "kind": db.kind,
        "built": built,
        "moves": moves,
        "path": len(tree.path),
        "warm": hot,
        "cold": procs,
        "counts": (counts0, counts1, counts2),
        "sizes": (size0, size1, size2),
        "labels": (labels0, labels2),
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def rows_of(r: dict[str, Any], turns: int, branches: int) -> list[tuple[str, str, str, str]]:
    kind, w, c = r["kind"], r["warm"], r["cold"]
    shape = f"{turns} turns, {branches} branches"
    counts0, counts1, counts2 = r["counts"]
    size0, size1, size2 = r["sizes"]
    labels0, labels2 = r["labels"]
    changed = [t for t in counts0 if counts0[t] != counts1[t]]
    grown = [f"{t} +{counts2[t] - counts1[t]}" for t in counts1 if counts2[t] != counts1[t]]
    listed = ", ".join(f"{t} {n}" for t, n in counts0.items() if t != "chatcli_labels")
    return [
        (
            f"20. {kind}: `/tree` warm (`thread.tree()` + `draw`), {shape}",
            ms(w["whole"]),
            "< 100 ms",
            "yes" if w["whole"] < WARM_GOAL else "NO",
        ),
        (
            f"20. {kind}: of which the two queries and their decoding · labels · building the tree · draw",
            " · ".join(ms(w[k]) for k in ("rows", "labels", "build", "draw")),
            "—",
            "—",
        ),
        (
            f"20. {kind}: `chat tree ID --json` cold (whole process, {c['bytes'] // 1024} KB out)",
            ms(c["median"]["json"]),
            "< 300 ms",
            "yes" if c["median"]["json"] < COLD_GOAL else "NO",
        ),
        (
            f"20. {kind}: `chat tree ID --json` / `chat --version` ({ms(c['median']['version'])}), wall (paired)",
            f"{c['ratio']['json']:.2f}x",
            "—",
            "—",
        ),
        (
            f"20. {kind}: `chat tree ID --json` through the warm worker (a script's, by default); / `chat --version`",
            f"{ms(c['median']['worker'])}; {c['ratio']['worker']:.2f}x",
            "< 300 ms",
            "yes" if c["median"]["worker"] < COLD_GOAL else "NO",
        ),
        (
            f"20. {kind}: `chat tree ID` (drawn) cold; / `chat --version` (paired)",
            f"{ms(c['median']['drawn'])}; {c['ratio']['drawn']:.2f}x",
            "—",
            "—",
        ),
        (
            f"20. {kind}: for comparison, `chat threads` (the same store opened, no tree read); / `chat --version`",
            f"{ms(c['median']['threads'])}; {c['ratio']['threads']:.2f}x",
            "—",
            "—",
        ),
        (
            f"20. {kind}: rows written by reading the tree ({listed})",
            "none" if not changed else "changed: " + ", ".join(changed),
            "none",
            met(len(changed), 0),
        ),
        (
            f"20. {kind}: database size before / after reading the tree",
            f"{size0:,} / {size1:,} bytes",
            "no change",
            "yes" if size0 == size1 else "NO",
        ),
        (
            f"20. {kind}: {LABELS} labels: rows added; database size; `chatcli_labels` size",
            f"{', '.join(grown) or 'none'}; {size2 - size1:+,} bytes; {labels0:,} -> {labels2:,} bytes",
            "labels only",
            "yes" if grown == [f"chatcli_labels +{LABELS}"] else "NO",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000, help="nodes of the thread (default 1000)")
    parser.add_argument("--branches", type=int, default=50, help="branches of the thread (default 50)")
    parser.add_argument("--runs", type=int, default=9, help="rounds of the commands (default 9)")
    parser.add_argument("--warm-runs", type=int, default=15, help="reads of the tree in-process (default 15)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite alone")
    parser.add_argument("--out", default=str(HERE / "results-tree.md"))
    options = parser.parse_args()
    started = time.perf_counter()
    bytecode()
    results = []
    with tempfile.TemporaryDirectory(prefix="tree-bench-") as tmp, FakeOpenAIServer(default_reply=answer) as server:
        work = Path(tmp)
        for key in [k for k in os.environ if k.startswith(("CHATCLI_", "OPENAI_")) and k != "CHATCLI_TEST_PG"]:
            del os.environ[key]
        os.environ.update(
            HOME=str(work / "home"),
            XDG_CONFIG_HOME=str(work / "home" / ".config"),
            XDG_DATA_HOME=str(work / "home" / ".local" / "share"),
            XDG_CACHE_HOME=str(work / "home" / ".cache"),
        )
        results.append(asyncio.run(bench_store(SqliteDb(work), server, work, options)))
        skipped = ""
        if options.no_postgres:
            skipped = "PostgreSQL not run (--no-postgres)"
        else:
            with postgres_server(work) as dsn:
                if dsn is None:
                    skipped = "PostgreSQL skipped: no server (set CHATCLI_TEST_PG, or install PostgreSQL)"
                else:
                    db = PostgresDb(dsn)
                    try:
                        results.append(asyncio.run(bench_store(db, server, work, options)))
                    finally:
                        db.close()
        if skipped:
            log(skipped)
    rows = [row for r in results for row in rows_of(r, options.turns, options.branches)]
    built = "; ".join(
        f"{r['kind']} built in {r['built']:.0f} s ({', '.join(f'{n} {k}' for k, n in r['moves'].items())}; "
        f"the thread's branch {r['path']} nodes)"
        for r in results
    )
    how = (
        f"{revision()}; medians of {options.warm_runs} reads in-process and {options.runs} rounds of the commands; "
        f"{built}{'; ' + skipped if skipped else ''}; bench took {time.perf_counter() - started:.0f} s"
    )
    report(rows, options.runs, options.out, how)
    return 0


if __name__ == "__main__":
    sys.exit(main())
