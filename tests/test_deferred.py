"""LangGraph's unused platform client is not loaded at start-up, and is whole when asked for."""

from __future__ import annotations

import subprocess
import sys


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_engine_imports_without_the_platform_client_or_websockets():
    out = run_python(
        "import sys, chatcli.graph, chatcli.turns, chatcli.msgstore;"
        "print(sorted(m for m in ('langgraph_sdk.client', 'websockets') if m in sys.modules))"
    )
    assert out == "[]"


def test_the_deferred_package_is_complete_when_something_uses_it():
    out = run_python(
        "import chatcli.graph, langgraph_sdk;"
        "print(type(langgraph_sdk.__version__).__name__);"
        "from langgraph_sdk import get_client; print(callable(get_client));"
        "from langgraph.pregel.remote import RemoteGraph; print(RemoteGraph.__name__)"
    )
    assert out.split() == ["str", "True", "RemoteGraph"]


def test_a_package_imported_already_is_left_alone():
    out = run_python(
        "import langgraph_sdk, sys; before = sys.modules['langgraph_sdk'];"
        "from chatcli.deferred import defer_package_init;"
        "print(defer_package_init('langgraph_sdk') is None and sys.modules['langgraph_sdk'] is before)"
    )
    assert out == "True"
