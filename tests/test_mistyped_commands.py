"""A lone word that names a command is not a paid question: `chat treads`, `chat list`, `chat help`
get "did you mean" and exit 2, nothing sent and no thread started; a real question (more words,
or anything after --) is sent as ever."""

from __future__ import annotations

import json

import pytest

from tests.helpers import assert_one_error_line, chat


@pytest.mark.parametrize(
    "word, meant",
    [
        ("treads", "chat threads"),
        ("thread", "chat threads"),
        ("list", "chat threads"),
        ("history", "chat show"),
        ("help", "chat --help"),
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


@pytest.mark.parametrize("args", [["--", "treads"], ["list my options"], ["hello"], ["why"], ["-t", "x", "--", "help"]])
def test_a_real_question_is_sent(server, chat_env, args):
    run = chat(chat_env, *args)
    assert run.code == 0, run
    question = " ".join(a for a in args if a != "--" and a not in ("-t", "x"))
    assert server.requests[-1]["messages"][-1]["content"] == question


def test_a_mistyped_command_with_flags_and_piped_text_is_refused_too(server, chat_env):
    run = chat(chat_env, "-m", "gpt-fake", "treads", stdin="some context\n")
    assert "did you mean chat threads" in assert_one_error_line(run, 2) and server.requests == []
