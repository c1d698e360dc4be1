"""A lone word that names a command is not a paid question: `chat treads`, `chat list`, `chat HELP`
get "did you mean" and exit 2, nothing sent and no thread started; a real question (more words,
or anything after --) is sent as ever. `chat help` shows the help, as git, cargo and docker do."""

from __future__ import annotations

import json

import pytest

from chatcli.provider_table import BY_NAME
from tests.helpers import assert_one_error_line, chat


@pytest.mark.parametrize(
    "word, meant",
    [
        ("treads", "chat threads"),
        ("thread", "chat threads"),
        ("list", "chat threads"),
        ("history", "chat show"),
        ("histroy", "chat show"),  # a near miss of a long word people type for a command, as of a command's name
        ("HELP", "chat --help"),
        ("serach", "chat search"),
        ("expotr", "chat export"),
        ("modles", "chat models"),
        ("stat", "chat stats"),
    ],
)
def test_a_lone_word_that_names_a_command_is_not_sent(server, chat_env, word, meant):
    run = chat(chat_env, word)
    line = assert_one_error_line(run, 2)
    assert f"did you mean {meant}" in line and f"chat -- {word}" in line, line
    assert server.requests == []
    assert json.loads(chat(chat_env, "threads", "--json").out) == []  # no thread started


@pytest.mark.parametrize(
    "args, shown", [(["help"], "Usage: chat [OPTIONS]"), (["help", "threads"], "Usage: chat threads")]
)
def test_chat_help_shows_the_help_as_git_does(server, chat_env, args, shown):
    run = chat(chat_env, *args)
    assert run.code == 0 and run.out.startswith(shown) and run.err == "", run
    assert server.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ["help", "me", "name", "this"],
        ["--", "treads"],
        ["list my options"],
        ["hello"],
        ["why"],
        ["last"],  # one edit from a word people type for a command (list), and a question of its own
        ["anew"],
        ["-t", "x", "--", "help"],
    ],
)
def test_a_real_question_is_sent(server, chat_env, args):
    run = chat(chat_env, *args)
    assert run.code == 0, run
    question = " ".join(a for a in args if a != "--" and a not in ("-t", "x"))
    assert server.requests[-1]["messages"][-1]["content"] == question


def test_a_mistyped_command_with_flags_and_piped_text_is_refused_too(server, chat_env):
    run = chat(chat_env, "-m", "gpt-fake", "treads", stdin="some context\n")
    assert "did you mean chat threads" in assert_one_error_line(run, 2) and server.requests == []


@pytest.mark.parametrize(
    "args, asked",
    [
        (["why", "is", "the", "sky", "blue"], "why is the sky blue"),
        (["-t", "x", "how", "do", "I", "list", "files"], "how do I list files"),
        (["what", "is", "2+2", "-m", "gpt-fake"], "what is 2+2"),
        (["--", "serach", "the", "web"], "serach the web"),
        (["--", "rm", "-rf", "means?"], "rm -rf means?"),
    ],
)
def test_a_question_typed_without_quotes_is_asked_whole(server, chat_env, args, asked):
    """As aichat and ollama take it: the words after chat are the question, quoted or not."""
    run = chat(chat_env, *args)
    assert run.code == 0, run
    assert server.requests[-1]["messages"][-1]["content"] == asked


def test_a_first_word_one_edit_from_a_command_still_asks_which(server, chat_env):
    run = chat(chat_env, "serach", "foo", "bar")
    line = assert_one_error_line(run, 2)
    assert "did you mean chat search" in line and "chat -- serach foo bar" in line, line
    assert server.requests == []


def _typo(name: str) -> str:
    return name[:2] + name[3:]  # a letter left out: antropic, olama, opnai...


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_a_providers_name_mistyped_gets_did_you_mean(server, chat_env, name):
    run = chat(chat_env, "-m", f"{_typo(name)}:some-model", "hi")
    line = assert_one_error_line(run, 3)
    assert f"did you mean {name}:?" in line, line
    assert server.requests == []


@pytest.mark.parametrize("spec", ["qwen3:8b", "llama3.1:70b", "deepseek-r1:14b"])
def test_a_models_own_colon_is_not_a_typo(server, chat_env, spec):
    run = chat(chat_env, "-m", spec, "hi")
    assert run.code == 0 and server.requests[-1]["model"] == spec, run
