"""A real browser for ``chat serve``'s page: the distribution's Chromium driven by Playwright, and the server in this
process on a real socket.

- ``CHROMIUM``: ``$CHATCLI_TEST_CHROMIUM``, else Debian's ``/usr/bin/chromium`` (.ci/run installs the package).
  Playwright's own browser download is never used (its host is not reachable here). Where Chromium or Playwright is
  missing the browser tests skip, saying why (``needs_chromium``); ``python -m tests.browser`` starts one headless and
  exits 1 saying why it cannot, which is how .ci/run makes sure they run there.
- ``browser``: one Chromium per test module (starting one costs about a second of CPU); ``browse(size)`` a fresh
  context for each view a test opens, at a phone's size (``PHONE``: 390x844, touch, mobile) or a desktop's
  (``DESKTOP``: 1280x800), light or dark. Each view keeps what went wrong on the page (console errors, uncaught
  exceptions, Content Security Policy violations), every request it made, every dialog it opened; leaving the
  ``with`` block asserts the first three are empty, naming the case.
- ``page_served``: ``chat serve ARGS`` run by chat's command line on a thread of this process, as a user starts it
  (its flags, settings, token and store), listening on a free port of 127.0.0.1 with its guard whole (the owner check
  reads the socket), so the fake model server and the store are the test's own; the background replies it starts
  answer on threads of this process too (tests/jobs_here.py). ``link`` is the sign-in link it printed.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

CHROMIUM = os.environ.get("CHATCLI_TEST_CHROMIUM") or "/usr/bin/chromium"
ARGS = ["--no-sandbox"]  # the suite runs as root in CI, where Chromium's own sandbox cannot start


@dataclass(frozen=True)
class Size:
    """A screen a view is opened at."""

    name: str
    width: int
    height: int
    mobile: bool

    def options(self) -> dict[str, Any]:
        """Playwright's context options for this screen."""
        return {
            "viewport": {"width": self.width, "height": self.height},
            "is_mobile": self.mobile,
            "has_touch": self.mobile,
            "device_scale_factor": 2 if self.mobile else 1,
        }


PHONE = Size("phone", 390, 844, mobile=True)
DESKTOP = Size("desktop", 1280, 800, mobile=False)
SIZES = (PHONE, DESKTOP)


def unavailable() -> str | None:
    """Why no browser test can run here (None: they can): Playwright or Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return (
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHATCLI_TEST_CHROMIUM; .ci/run installs it)"
        )
    return None


WHY_NOT = unavailable()
needs_chromium = pytest.mark.skipif(WHY_NOT is not None, reason=f"no browser for the page's tests: {WHY_NOT}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the tests of a module."""
    if WHY_NOT is not None:
        pytest.skip(f"no browser for the page's tests: {WHY_NOT}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=15_000)  # what a page waits for may wait on a poll (4 s) on a busy machine
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@dataclass
class View:
    """A page in a context of its own, and what it did."""

    case: str
    page: Any
    problems: list[str] = field(default_factory=list)  # console errors, uncaught exceptions, CSP violations
    requests: list[str] = field(default_factory=list)  # every URL it asked for, in order
    dialogs: list[str] = field(default_factory=list)  # alert, confirm, prompt, beforeunload: their messages

    def said(self, what: str) -> str:
        """An assertion's message: the case, what was checked, and what went wrong on the page so far."""
        return f"{self.case}: {what}" + (f" (the page's errors: {self.problems})" if self.problems else "")


# What a page is told before its own scripts: a violation of its CSP is reported to the test, as it happens.
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (e) =>
  window.__cspViolated(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));
"""


@pytest.fixture
def browse(browser: Any) -> Iterator[Any]:
    """``with browse(size, case, dark=False) as view``: a fresh context at ``size``; its problems asserted empty when
    the block is left (``view.problems.clear()`` first for a case that expects one)."""
    contexts: list[Any] = []

    @contextmanager
    def opened(size: Size, case: str = "", dark: bool = False, **options: Any) -> Iterator[View]:
        context = browser.new_context(**size.options(), color_scheme="dark" if dark else "light", **options)
        contexts.append(context)
        problems: list[str] = []
        context.expose_function("__cspViolated", lambda text: problems.append(f"CSP: {text}"))
        context.add_init_script(WATCH_CSP)
        page = context.new_page()
        view = View(f"{case or 'the page'} at the {size.name}'s size{' in dark' if dark else ''}", page, problems)
        page.on("console", lambda m: m.type == "error" and view.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: view.problems.append(f"uncaught: {e}"))
        page.on("request", lambda r: view.requests.append(r.url))
        page.on("dialog", lambda d: (view.dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        page.set_default_timeout(15_000)
        yield view
        assert not view.problems, view.said("the page had no errors")
        context.close()

    yield opened
    for context in contexts:
        context.close()


class PageServed:
    """``chat serve ARGS`` on a thread of this process, on 127.0.0.1 at a free port (see the module)."""

    def __init__(self, env: dict[str, str], *args: str):
        from tests.helpers import Captured
        from tests.test_serve import free_port

        self.env, self.port, self.err = env, free_port(), Captured()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.servers: list[Any] = []
        self.patches = pytest.MonkeyPatch()
        self._patch()
        self.exited: list[int | BaseException] = []
        self.thread = threading.Thread(target=self._run, args=args, name="chat serve", daemon=True)
        self.thread.start()
        from tests.helpers import eventually

        eventually(
            lambda: self.exited or (self.servers and self.servers[0].started),
            f"chat serve listening on {self.origin}",
            timeout=60,
        )
        if self.exited:
            raise AssertionError(f"chat serve {' '.join(args)} ended as it started: {self.exited}\n{self.console}")
        self.token: str | None = self._token()
        found = re.search(rf"listening on ({re.escape(self.origin)}\S*)", self.console)
        self.link = found.group(1) if found else None  # the sign-in link it printed

    def _patch(self) -> None:
        """What only a process's main thread may do is left out (signal handlers); the server is kept, to stop it."""
        import uvicorn

        from chatcli.app import serve_commands

        servers = self.servers

        class Kept(uvicorn.Server):
            def __init__(self, config: Any):
                super().__init__(config)
                servers.append(self)

        self.patches.setattr(uvicorn, "Server", Kept)
        quiet = types.SimpleNamespace(**{**vars(serve_commands.signal), "signal": lambda *_: None})
        self.patches.setattr(serve_commands, "signal", quiet)

    def _run(self, *args: str) -> None:
        from chatcli.app.cli import main
        from chatcli.app.environment import Environment
        from tests.helpers import Captured, piped_stdin

        environment = Environment(stdin=piped_stdin(b""), stdout=Captured(), stderr=self.err,
                                  environ=dict(self.env), cwd=Path.cwd())  # fmt: skip
        from chatcli.service.jobs import LAUNCHER
        from tests.jobs_here import in_this_process

        LAUNCHER.set(in_this_process)  # the background replies it starts answer here (this thread's context only)
        try:
            self.exited.append(main(["serve", "--port", str(self.port), *args], environment))
        except BaseException as exc:  # noqa: BLE001  (said by the test that waits for it)
            self.exited.append(exc)

    def _token(self) -> str | None:
        from chatcli.api.access import token_path

        path = token_path(self.env)
        return path.read_text().strip() if path.exists() else None

    @property
    def console(self) -> str:
        """What chat serve said on its stderr so far."""
        return self.err.getvalue()

    def stop(self) -> str:
        """Stop it as Ctrl-C does; what it said."""
        for server in self.servers:
            server.should_exit = True
        self.thread.join(30)
        self.patches.undo()
        assert not self.thread.is_alive(), f"chat serve did not stop\n{self.console}"
        return self.console


@pytest.fixture
def page_served(chat_env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    """``page_served(*args, env=...)``: chat serve ARGS in this process (a runtime directory of the test's own, so
    its token is the test's); stopped at the end."""
    started: list[PageServed] = []
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)

    def start(*args: str, env: dict[str, str] | None = None) -> PageServed:
        started.append(PageServed({"XDG_RUNTIME_DIR": str(runtime), **(env or chat_env)}, *args))
        return started[-1]

    yield start
    for served in started:
        served.stop()


def check() -> str | None:
    """Start Chromium headless and run a page's script in it: None, or why it cannot here."""
    reason = unavailable()
    if reason is not None:
        return reason
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as driver:
            launched = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = launched.new_page(**PHONE.options())
            page.set_content("<p id=p></p><script>document.getElementById('p').textContent = 'ran'</script>")
            ran = page.text_content("#p")
            launched.close()
    except Error as exc:
        return f"Chromium at {CHROMIUM} did not start headless: {str(exc).splitlines()[0]}"
    return None if ran == "ran" else f"Chromium at {CHROMIUM} ran no script"


if __name__ == "__main__":  # .ci/run: the browser tests must run there, not skip
    why = check()
    print(f"tests/browser.py: {why or f'Chromium at {CHROMIUM} starts headless'}", file=sys.stderr)
    sys.exit(1 if why else 0)
