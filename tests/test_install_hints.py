"""No hint names a registry package this project does not own: the registry's "chatcli" is someone else's.

Hints say how to add an extra from where this installation came from (the checkout of an
editable install, as the README installs it).
"""

from __future__ import annotations

from pathlib import Path

from chatcli.paths import install_line
from tests.helpers import chat

ROOT = Path(__file__).resolve().parent.parent


def test_the_install_hint_names_this_checkout_and_no_registry_package():
    line = install_line("postgres")
    assert line == f'pip install -e "{ROOT}[postgres]"', line
    assert '"chatcli[' not in install_line("local", "--no-cache-dir")


def test_help_and_the_no_key_error_never_name_the_registrys_chatcli(chat_env):
    shown = chat(chat_env, "--help")
    assert shown.code == 0 and "chatcli[" not in shown.out and "docs/local-model.md builds it" in shown.out, shown
    no_key = {k: v for k, v in chat_env.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    failed = chat({**no_key, "CHATCLI_LOCAL": "0"}, "hello")
    assert failed.code == 3 and '"chatcli[' not in failed.err, failed


def test_the_distribution_is_not_named_after_the_registrys_chatcli():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'name = "chatcli"' not in text and 'name = "chatcli-langgraph"' in text
