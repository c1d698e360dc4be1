"""A graph of the user's (``chat --graph``) whose model is any provider's: its failures read as chat's own turns
do, sorted by the provider whose client raised them (an Anthropic 429 is a rate limit by that server, never
"unexpected error: RateLimitError"). Each row of tests/providers.py, against its fake server.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fakeserver import Fault
from tests.helpers import assert_one_error_line, chat, stored, summary
from tests.providers import ROWS, Row

ERRORS = [
    (lambda: Fault(status=401), "authentication refused by"),
    (lambda: Fault(status=429, headers={"retry-after": "0"}), "rate limited by"),
    (lambda: Fault(status=500), "server error from"),
]


@pytest.fixture(params=ROWS, ids=str)
def graph_provider(request: pytest.FixtureRequest, chat_env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """(row, its fake, chat's environment pointing at it): the graph's own code reads this process's environment."""
    row: Row = request.param
    if row.module and importlib.util.find_spec(row.module) is None:
        pytest.skip(f"{row.module} is not installed")
    with row.start() as fake:
        env = {k: v for k, v in chat_env.items() if not k.startswith("OPENAI_")}
        env.update(row.env(fake), CHATCLI_MODEL=row.model)
        for name, value in row.env(fake).items():
            monkeypatch.setenv(name, value)
        yield row, fake, env


def write_graph(tmp_path: Path, row: Row) -> str:
    imported, model = row.graph_model
    path = tmp_path / f"graph_{row.name}.py"
    path.write_text(
        f"import os\n{imported}\nfrom langgraph.graph import START, MessagesState, StateGraph\n"
        f"MODEL = {model}\n"
        "async def ask(state):\n    return {'messages': [await MODEL.ainvoke(state['messages'])]}\n"
        "b = StateGraph(MessagesState)\nb.add_node('model', ask)\nb.add_edge(START, 'model')\ng = b.compile()\n"
    )
    return f"{path}:g"


@pytest.mark.parametrize("fault, said", ERRORS, ids=["bad-key", "rate-limit", "server-error"])
def test_a_graphs_model_failure_reads_as_chats_own_turn_does(graph_provider, tmp_path, fault, said):
    row, fake, env = graph_provider
    fake.queue(fault())
    own = assert_one_error_line(chat(env, "-t", "own", "will this work?"), 4)
    fake.queue(fault())
    run = chat(env, "--graph", write_graph(tmp_path, row), "-t", "graphs", "will this work?")
    line = assert_one_error_line(run, 4)
    where = urlsplit(fake.base_url if "://" in fake.base_url else f"http://{fake.base_url}").netloc
    assert f"{said} {where}" in line and "unexpected" not in line and "SECRET" not in run.err, line
    assert line == own, "a graph's model failing reads as chat's own turn on that provider does"
    kept = summary(stored(env.get("CHATCLI_DB") or str(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db"), "graphs"))
    assert kept[0][:2] == ("human", "will this work?"), kept
