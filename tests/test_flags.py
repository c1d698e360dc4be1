"""The flags of ``chat [QUESTION]`` are one table (chatcli.app.flags): the Typer command, the launcher's lists, the
settings and the refusals are read from it, so a flag added to one and not the others fails here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chatcli.app import flags, launch
from chatcli.app.environment import Environment
from chatcli.app.flags import ASK, GRAPH, REMOTE
from chatcli.app.run import graph_source
from chatcli.errors import UsageError
from chatcli.service.answerer import OWN


def ask_params() -> list:
    from chatcli.app.cli import app

    return app.commands().commands["ask"].params


def test_the_typer_command_is_the_table_row_for_row():
    """Every parameter of `chat [QUESTION]` is a row, in the table's order, and every row a parameter, as the row
    says it: its names, what it takes, its metavar, its help and whether --help shows it."""
    from chatcli.app.cli import ask_command

    code = ask_command.__code__  # its parameters are the table's: one of its own would never be given
    assert (code.co_argcount, code.co_kwonlyargcount, code.co_varnames[:1]) == (0, 0, ("given",))
    params = ask_params()
    assert [p.name for p in params] == [flag.param for flag in ASK]
    for param, flag in zip(params, ASK):
        option = param.param_type_name == "option"
        assert (tuple(param.opts) if option else ()) == flag.names, flag
        assert param.metavar == flag.metavar and param.help == flag.help, flag
        assert getattr(param, "hidden", False) == flag.hidden, flag
        assert (option and not param.is_flag) == flag.takes_value, flag
        assert param.multiple == isinstance(flag.default, list), flag
        assert tuple(getattr(param.type, "choices", ())) == flag.choices, flag


def test_the_launcher_reads_its_lists_from_the_table():
    """The options that take a value are the table's and the subcommands' own (each named once); what the warm worker
    leaves alone is the table's rows that say so, and the help and completion flags that are no rows."""
    valued = {name for p in ask_params() if p.param_type_name == "option" and not p.is_flag for name in p.opts}
    assert flags.VALUED == valued | flags.SUBCOMMANDS_VALUED and launch.VALUED is flags.VALUED
    assert not flags.SUBCOMMANDS_VALUED & {name for flag in ASK for name in flag.names}
    assert {
        "--local",
        "--local-model",
        "--graph",
        "-g",
        "--remote",
        "--version",
        "--help-all",
    } < launch.NOT_FOR_THE_WORKER
    for name in launch.NOT_FOR_THE_WORKER:
        assert not launch.is_one_shot([name, "x", "q"], False), name


def test_the_table_needs_only_the_standard_library():
    """The launcher imports it before the worker takes a run: no Typer, no chatcli module but the table."""
    code = (
        "import sys; before = set(sys.modules); import chatcli.app.flags\n"
        "print(' '.join(m for m in set(sys.modules) - before if m.split('.')[0] not in sys.stdlib_module_names))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(done.stdout.split()) <= {"chatcli", "chatcli.app", "chatcli.app.flags"}, done.stdout


def given(**values: object) -> dict[str, object]:
    """Every flag at its default (as Typer hands them over), but ``values``."""
    return {**{flag.param: flag.default for flag in ASK}, **values}


def sample(flag: flags.Flag) -> object:
    """A value that gives ``flag``."""
    if flag.default is False:
        return True
    return [flag.choices[0] if flag.choices else "x"] if isinstance(flag.default, list) else "x"


# What a graph of the user's (--graph) and a server's graph (--remote) refuse: chat's own graph's flags (its model,
# prompt and tools), and, on a server, those of chat's own store and sandbox.
OWN_GRAPH = {
    "--model",
    "--system",
    "--role",
    "--var",
    "--temperature",
    "--tools",
    "--local",
    "--local-model",
    "--memory",
}
OWN_STORE = {"--db", "--no-tools", "--sandbox", "--network", "--attach", "--new-thread"}


def test_a_graph_and_a_server_refuse_the_flags_the_table_says():
    assert {flag.name for flag in flags.refused(GRAPH)} == OWN_GRAPH
    assert {flag.name for flag in flags.refused(REMOTE)} == OWN_GRAPH | OWN_STORE
    env = Environment()
    for flag in ASK:
        if REMOTE in flag.refused_by:
            with pytest.raises(UsageError, match=f"^{flag.name} does not apply with --remote: the server's graph"):
                graph_source(given(remote="http://127.0.0.1:9", **{flag.param: sample(flag)}), env)
        if GRAPH in flag.refused_by:
            with pytest.raises(UsageError, match=f"^{flag.name} does not apply to --graph "):
                graph_source(given(graph="missing.py:graph", **{flag.param: sample(flag)}), env)


def test_chats_own_graph_is_refused_nothing_and_the_first_refused_flag_is_named():
    assert graph_source(given(**{f.param: sample(f) for f in ASK if f.refused_by}), Environment()) == (OWN, None)
    with pytest.raises(UsageError, match="^--model does not apply with --remote"):  # chat's own graph's first
        graph_source(given(remote="http://127.0.0.1:9", db="x", model="m"), Environment())


def test_the_settings_the_flags_override():
    """A flag not given overrides nothing (None: the config layers decide); a switch sets its setting only when on."""
    assert set(flags.settings_of(given()).values()) == {None}
    assert flags.settings_of(given(model="m", memory=None, no_tools=True, no_memory=True, yes=True, local=True)) == {
        "model": "m",
        "temperature": None,
        "memory": None,
        "local": True,
        "local_model": None,
        "tools": None,
        "use_tools": False,
        "memories": False,
        "max_cost_answer": None,
        "approve_all": True,
        "sandbox": None,
        "network": None,
        "db": None,
    }
    assert flags.settings_of({"no_tools": False, "db": "x"}) == {"use_tools": None, "db": "x"}  # those given only


def test_a_choice_reaches_the_settings_as_its_text(monkeypatch):
    """Typer hands a flag with choices over as an Enum; the settings get its text."""
    from chatcli.app import cli

    seen: dict[str, object] = {}
    monkeypatch.setattr(cli, "guarded", lambda debug, action, overrides, on_error: seen.update(overrides))
    assert cli.main(["--memory", "trim", "--sandbox", "read-only", "q"], Environment()) == 0
    assert seen["memory"] == "trim" and seen["sandbox"] == "read-only"
