"""Shell completion: the scripts for bash, zsh and fish, and what a Tab offers (thread ids where one goes)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fakeserver import Reply
from tests.helpers import CHAT, chat


def tab(chat_env: dict[str, str], line: str, shell: str = "bash") -> list[str]:
    """What a Tab after ``line`` offers, as the shell's script asks chat for it (bash protocol)."""
    words = line.split()
    cword = len(words) if line.endswith(" ") else len(words) - 1
    env = {**chat_env, "_CHAT_COMPLETE": f"{shell}_complete", "COMP_WORDS": line, "COMP_CWORD": str(cword)}
    run = chat(env)
    assert run.code == 0, run
    return [row.split(",", 1)[1] for row in run.out.splitlines() if row]


@pytest.fixture
def threads(server, chat_env):
    for name in ("alpha1", "beta22"):
        server.queue(Reply("ok"))
        assert chat(chat_env, "-t", name, f"question for {name}").code == 0
    return chat_env


def test_subcommands_and_options_complete(chat_env):
    assert {"threads", "show", "export", "tools", "fork"} <= set(tab(chat_env, "chat "))
    assert "ask" not in tab(chat_env, "chat ")
    assert tab(chat_env, "chat sh") == ["show"]
    assert tab(chat_env, "chat --mem") == ["--memory"]
    assert tab(chat_env, "chat --memory ") == ["compact", "trim", "summary"]
    assert tab(chat_env, "chat export x --format ") == ["md", "json"]
    assert "--limit" in tab(chat_env, "chat threads --")


def test_thread_ids_complete_where_a_thread_goes(threads):
    env = threads
    assert tab(env, "chat --thread ") == ["beta22", "alpha1"]  # most recent first
    assert tab(env, "chat -t al") == ["alpha1"]
    for command in ("show", "export", "rm", "title", "fork"):
        assert set(tab(env, f"chat {command} ")) == {"alpha1", "beta22"}, command
    assert tab(env, "chat rm alpha1 ") == ["beta22"]  # rm takes several, not the same twice
    assert tab(env, "chat title alpha1 ") == []  # the second argument is the new title


def test_completion_with_no_database_yet_offers_no_ids(chat_env):
    assert tab(chat_env, "chat show ") == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_the_script(chat_env, shell):
    run = chat(chat_env, "--show-completion", shell)
    assert run.code == 0, run
    assert "_CHAT_COMPLETE" in run.out and f"{shell}_complete" in run.out


def test_an_unknown_shell_is_one_line(chat_env):
    run = chat(chat_env, "--show-completion", "tcsh")
    assert run.code == 2, run
    assert "no completion for 'tcsh'" in run.err


def test_install_completion_writes_where_the_shell_looks(chat_env):
    run = chat({**chat_env, "SHELL": "/usr/bin/fish"}, "--install-completion")
    assert run.code == 0, run
    path = Path(chat_env["HOME"]) / ".config" / "fish" / "completions" / "chat.fish"
    assert path.is_file() and "_CHAT_COMPLETE" in path.read_text()
    assert str(path) in run.err


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_itself_completes_a_thread_id(threads):
    """The real thing: bash sources the script and runs its completion function."""
    bin_dir = str(Path(CHAT).parent)
    script = (
        'source <(chat --show-completion bash); COMP_WORDS=(chat show ""); COMP_CWORD=2; '
        '_chat_completion chat; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**threads, "PATH": f"{bin_dir}:{threads['PATH']}"}
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert sorted(out.stdout.split()) == ["alpha1", "beta22"], out
