"""chatcli.local.lazy_imports: a deferred package behaves like the real one as soon as anything uses it.

Each test runs in this process on small packages written to a temp dir, which are forgotten after it (their
modules, their deferral, the counters they keep); tests/test_startup.py checks the packages chatcli really defers.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGES = {
    "lazypkg/__init__.py": """
        import builtins
        builtins.lazypkg_runs = getattr(builtins, "lazypkg_runs", 0) + 1
        from .sub import Thing
        from .shadow import shadow  # the name of a submodule, bound to a function
        LOADED = True
        __all__ = ["Thing", "shadow"]
    """,
    "lazypkg/sub.py": "class Thing:\n    pass\n",
    "lazypkg/shadow.py": "def shadow():\n    return 'function'\n",
    "lazypkg/other.py": "VALUE = 1\n",
    "dynpkg/__init__.py": """
        def __getattr__(name):
            return name.upper()
    """,
    "dynpkg/x.py": "",
    "slowpkg/__init__.py": """
        import builtins, time
        builtins.slowpkg_runs = getattr(builtins, "slowpkg_runs", 0) + 1
        time.sleep(0.3)
        from .sub import Thing
    """,
    "slowpkg/sub.py": "class Thing:\n    pass\n",
    "badpkg/__init__.py": "raise ImportError('broken on purpose')\n",
    "badpkg/sub.py": "VALUE = 2\n",
}

PRELUDE = """
import builtins, importlib, sys
from chatcli.local.lazy_imports import defer_package_init, is_deferred
for name in ("lazypkg", "dynpkg", "slowpkg", "badpkg"):
    assert defer_package_init(name)
def runs():
    return getattr(builtins, "lazypkg_runs", 0)
"""


@pytest.fixture
def run(tmp_path: Path):
    """Run code after PRELUDE in this process, where the packages can be imported; return its stdout's words."""
    for rel, text in PACKAGES.items():
        path = tmp_path / "pkgs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    sys.path.insert(0, str(tmp_path / "pkgs"))
    importlib.invalidate_caches()

    def go(code: str) -> list[str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(PRELUDE + textwrap.dedent(code), {"__name__": "lazy_test"})
        return out.getvalue().split()

    yield go
    for name in ("lazypkg", "dynpkg", "slowpkg", "badpkg"):
        if name not in sys.modules:
            with contextlib.suppress(ImportError):
                importlib.import_module(name)  # takes up a deferral the test left unused
        for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[module]
    sys.path.remove(str(tmp_path / "pkgs"))
    for counter in ("lazypkg_runs", "slowpkg_runs"):
        if hasattr(builtins, counter):
            delattr(builtins, counter)


def test_submodules_import_without_running_the_init(run):
    out = run(
        """
        import lazypkg.other
        from lazypkg import sub
        import lazypkg
        print(runs(), lazypkg.other.VALUE, sub.Thing.__name__, lazypkg.sub is sub, is_deferred("lazypkg"))
        print(hasattr(lazypkg, "__wrapped__"), runs())  # a probe does not load
        """
    )
    assert out == ["0", "1", "Thing", "True", "True", "False", "0"]


def test_any_other_name_runs_the_init_once_and_answers_from_it(run):
    out = run(
        """
        import lazypkg.sub, lazypkg
        print(lazypkg.Thing is lazypkg.sub.Thing, runs(), lazypkg.LOADED, is_deferred("lazypkg"))
        from lazypkg import Thing
        print(Thing is lazypkg.sub.Thing, runs(), lazypkg.__loader__.__class__.__name__)
        """
    )
    assert out == ["True", "1", "True", "False", "True", "1", "SourceFileLoader"]


def test_a_name_the_init_binds_over_a_submodule_gets_the_init_s_value(run):
    out = run(
        """
        import lazypkg
        print(lazypkg.shadow(), runs())
        from lazypkg import shadow
        print(shadow())
        """
    )
    assert out == ["function", "1", "function"]


def test_star_import_and_missing_names_behave_as_without_deferral(run):
    out = run(
        """
        from lazypkg import *
        print(Thing.__name__, shadow(), runs())
        import lazypkg
        print(hasattr(lazypkg, "nope"))
        try:
            from lazypkg import nope
        except ImportError:
            print("ImportError")
        """
    )
    assert out == ["Thing", "function", "1", "False", "ImportError"]


def test_an_init_with_its_own_getattr_always_answers(run):
    out = run(
        """
        import dynpkg
        print(dynpkg.x, dynpkg.anything, is_deferred("dynpkg"))
        """
    )
    assert out == ["X", "ANYTHING", "False"]


def test_threads_that_use_it_at_once_run_the_init_once(run):
    out = run(
        """
        import threading, slowpkg.sub
        seen = []
        def use():
            from slowpkg import Thing
            seen.append(Thing is slowpkg.sub.Thing)
        threads = [threading.Thread(target=use) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(seen == [True] * 4, builtins.slowpkg_runs)
        """
    )
    assert out == ["True", "1"]


def test_a_broken_init_fails_when_used_as_it_would_have_failed_to_import(run):
    out = run(
        """
        import badpkg.sub
        print(badpkg.sub.VALUE)
        try:
            badpkg.anything
        except ImportError as exc:
            print(exc.args[0].replace(" ", "_"))
        """
    )
    assert out == ["2", "broken_on_purpose"]


def test_reload_of_a_deferred_package_runs_its_init(run):
    out = run(
        """
        import lazypkg
        importlib.reload(lazypkg)
        print(runs(), lazypkg.LOADED, is_deferred("lazypkg"))
        """
    )
    assert out == ["1", "True", "False"]


def test_a_package_imported_already_is_left_alone(run):
    out = run(
        """
        import json, sys
        before = sys.modules["json"]
        print(defer_package_init("json"), sys.modules["json"] is before, is_deferred("json"))
        """
    )
    assert out == ["False", "True", "False"]
