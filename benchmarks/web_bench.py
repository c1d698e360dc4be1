"""Web pages as context (`-a URL`, `/attach URL`) do not slow the prompt or a one-shot; what a page costs.

Runs this checkout's code (``python -m chatcli`` with PYTHONPATH set) against the code it branched from
(``git merge-base HEAD main``, unpacked with ``git archive`` into a temp dir), interleaved, each run
paired with the other; ratios are medians of the per-pair ratios. config.toml prices the model, so that
neither side loads the price table. The fake OpenAI server
(tests/fakeserver.py) answers at once; a local site (tests/website.py) serves a ~300 KB HTML page.

Rows:
1. the prompt: ``chat`` spawned in a pseudo-terminal to the prompt shown, this checkout / base;
2. a one-shot: ``echo hi | chat``, this checkout / base (wall), and whether the HTML library was
   imported by it (none may be); beside it, what importing it would cost (``import bs4, markdownify``
   over ``python -c pass``);
3. a page: ``chat -a URL "q"`` against ``chat -a FILE "q"`` where FILE holds the Markdown the page
   became: what fetching and converting adds to a one-shot; and the conversion alone, in this process
   and in the process of its own chat runs it in (started for the page, limits set);
4. the same ``chat -a URL "q"``, this checkout / base, wall and CPU time (a conversion in a process of
   its own, decoding done by chat: against the base's, whatever that was).

    .venv/bin/python benchmarks/web_bench.py [--runs N]

Writes the table to benchmarks/results-web.md.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from bench import PtyChat, chat_env, prompt_shown, timed_run  # noqa: E402

from tests import website  # noqa: E402
from tests.fakeserver import FakeOpenAIServer  # noqa: E402

PY = sys.executable
LOADED = "import atexit, sys; atexit.register(lambda: sys.stderr.write('\\nHTML ' + str(sorted(m for m in sys.modules if m.split('.')[0] in ('bs4', 'markdownify')))))\n"
MAIN = "import runpy, sys; sys.argv = ['chat', *sys.argv[1:]]; runpy.run_module('chatcli', run_name='__main__', alter_sys=True)"


page = website.documentation_page


def base_tree(work: Path, commit: str | None = None) -> Path:
    """``commit``'s code (by default the one this checkout branched from), unpacked (chatcli/ only)."""
    commit = (
        commit
        or subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    data = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "chatcli"], capture_output=True, check=True
    ).stdout
    target = work / "base"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(target, filter="data")
    return target


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    started = time.perf_counter()
    server, site = FakeOpenAIServer(default_reply="Read it."), website.Site()
    server.start()
    html = page()
    website.PAGES["/bench"] = (200, {"Content-Type": "text/html; charset=utf-8"}, html)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        trees = {"branch": ROOT, "base": base_tree(work)}
        envs = {
            name: {**chat_env(server.base_url, work / f"home-{name}"), "PYTHONPATH": str(tree)}
            for name, tree in trees.items()
        }
        for name in trees:  # priced by config.toml: neither loads genai-prices' table, whatever its rules
            config = work / f"home-{name}" / ".config" / "chatcli" / "config.toml"
            config.parent.mkdir(parents=True)
            config.write_text('[prices."gpt-fake"]\ninput = 1\noutput = 2\n')
        r: dict[str, list[float]] = {}
        for i in range(args.runs):  # row 1: the prompt
            for name in ("branch", "base") if i % 2 == 0 else ("base", "branch"):
                chat = PtyChat([], envs[name], work, command=[PY, "-m", "chatcli"])
                try:
                    r.setdefault(f"prompt_{name}", []).append(chat.wait_for(prompt_shown))
                finally:
                    chat.close()
            r.setdefault("prompt_ratio", []).append(r["prompt_branch"][-1] / r["prompt_base"][-1])
        html_loaded = set()
        for i in range(args.runs):  # row 2: a one-shot, and what importing the library costs
            for name in ("branch", "base") if i % 2 == 0 else ("base", "branch"):
                wall, proc, _ = timed_run([PY, "-c", LOADED + MAIN], env=envs[name], cwd=work, stdin=b"hi\n")
                assert proc.returncode == 0 and b"Read it." in proc.stdout, proc.stderr.decode()
                r.setdefault(f"oneshot_{name}", []).append(wall)
                if name == "branch":
                    html_loaded.add(proc.stderr.decode().rsplit("HTML ", 1)[1].strip())
            r.setdefault("oneshot_ratio", []).append(r["oneshot_branch"][-1] / r["oneshot_base"][-1])
            r.setdefault("py", []).append(timed_run([PY, "-c", "pass"])[0])
            r.setdefault("py_html", []).append(timed_run([PY, "-c", "import bs4, markdownify"])[0])
        import asyncio

        from chatcli.content.html_text import convert as convert_apart
        from chatcli.content.html_text import page_text

        t = time.perf_counter()
        title, text = page_text(html.decode())
        convert = time.perf_counter() - t
        for _ in range(args.runs):
            t = time.perf_counter()
            assert asyncio.run(convert_apart(html.decode())) == (title, text)
            r.setdefault("apart", []).append(time.perf_counter() - t)
        (work / "page.md").write_text(text)
        url = f"{site.url}/bench"
        big = {
            **envs["branch"],
            "CHATCLI_CONTEXT_TOKENS": "200000",
        }  # the page is ~25,000 tokens: over the default budget
        for i in range(args.runs):  # row 3: a page against the same text as a file
            for which, path in (
                (("url", url), ("file", str(work / "page.md")))
                if i % 2 == 0
                else (("file", str(work / "page.md")), ("url", url))
            ):
                wall, proc, _ = timed_run([PY, "-m", "chatcli", "-a", path, "q"], env=big, cwd=work)
                assert proc.returncode == 0, proc.stderr.decode()
                r.setdefault(f"attach_{which}", []).append(wall)
        for i in range(args.runs):  # row 4: the page, this checkout against base
            for name in ("branch", "base") if i % 2 == 0 else ("base", "branch"):
                env = {**envs[name], "CHATCLI_CONTEXT_TOKENS": "200000"}
                wall, proc, cpu = timed_run([PY, "-m", "chatcli", "-a", url, "q"], env=env, cwd=work)
                assert proc.returncode == 0, proc.stderr.decode()
                r.setdefault(f"url_{name}", []).append(wall)
                r.setdefault(f"url_cpu_{name}", []).append(cpu)
            r.setdefault("url_ratio", []).append(r["url_branch"][-1] / r["url_base"][-1])
            r.setdefault("url_cpu_ratio", []).append(r["url_cpu_branch"][-1] / r["url_cpu_base"][-1])
        sent = json.dumps(server.requests[-1])
    server.stop()
    site.close()
    assert "Section 119" in sent, "the page was not sent"
    rows = [
        (
            "1. prompt: spawn -> prompt shown, this checkout / base (paired)",
            f"{med(r['prompt_branch']):.3f} s / {med(r['prompt_base']):.3f} s = {med(r['prompt_ratio']):.3f}x",
        ),
        (
            "2. one-shot `echo hi \\| chat`, this checkout / base (paired)",
            f"{med(r['oneshot_branch']):.3f} s / {med(r['oneshot_base']):.3f} s = {med(r['oneshot_ratio']):.3f}x",
        ),
        ("2. HTML library modules loaded by that one-shot", ", ".join(sorted(html_loaded))),
        (
            "2. what importing it would add: `import bs4, markdownify` over `python -c pass`",
            f"+{(med(r['py_html']) - med(r['py'])) * 1000:.0f} ms",
        ),
        (
            f"3. `chat -a URL q` ({len(html) // 1024} KB page) / `chat -a FILE q` (its {len(text) // 1024} KB of Markdown)",
            f"{med(r['attach_url']):.3f} s / {med(r['attach_file']):.3f} s: +{(med(r['attach_url']) - med(r['attach_file'])) * 1000:.0f} ms",
        ),
        ("3. converting that page in-process (bs4 parse + markdownify; imports warm)", f"{convert * 1000:.0f} ms"),
        (
            "3. converting it as chat does: a process of its own, started for the page",
            f"{med(r['apart']) * 1000:.0f} ms",
        ),
        (
            "4. `chat -a URL q`, this checkout / base (paired): wall",
            f"{med(r['url_branch']):.3f} s / {med(r['url_base']):.3f} s = {med(r['url_ratio']):.3f}x",
        ),
        (
            "4. the same, CPU (user + system, the converting process's included)",
            f"{med(r['url_cpu_branch']):.3f} s / {med(r['url_cpu_base']):.3f} s = {med(r['url_cpu_ratio']):.3f}x",
        ),
    ]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Web pages as context: benchmark",
        "",
        "Generated by `python benchmarks/web_bench.py`; overwritten each run.",
        "",
        f"{when} · nproc {os.cpu_count()} · Python {sys.version.split()[0]} · {args.runs} runs each · "
        f"took {time.perf_counter() - started:.0f} s",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {a} | {b} |" for a, b in rows),
    ]
    (HERE / "results-web.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
