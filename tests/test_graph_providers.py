"""A graph of the user's (``chat --graph``) whose model is any provider's: its failures read as chat's own turns
do, sorted by the provider whose client raised them (an Anthropic 429 is a rate limit by that server, never
"unexpected error: RateLimitError"). Each provider of tests/matrix.py, against its fake server.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fakeserver import Fault
from tests.helpers import assert_one_error_line, chat, stored, summary
from tests.matrix import backends, providers

ERRORS = [
    (lambda: Fault(status=401), "authentication refused by"),
    (lambda: Fault(status=429, headers={"retry-after": "0"}), "rate limited by"),
    (lambda: Fault(status=500), "server error from"),
]


@providers()
@backends("graph")  # its graph: the smallest over the provider's model (tests/matrix.py's graph_path)
@pytest.mark.parametrize("fault, said", ERRORS, ids=["bad-key", "rate-limit", "server-error"])
def test_a_graphs_model_failure_reads_as_chats_own_turn_does(backend, fault, said):
    fake, env = backend.model, backend.env
    fake.queue(fault())
    own = assert_one_error_line(chat(env, "-t", "own", "will this work?"), 4)
    fake.queue(fault())
    run = chat(env, *backend.args, "-t", "graphs", "will this work?")
    line = assert_one_error_line(run, 4)
    where = urlsplit(fake.base_url if "://" in fake.base_url else f"http://{fake.base_url}").netloc
    assert f"{said} {where}" in line and "unexpected" not in line and "SECRET" not in run.err, line
    assert line == own, "a graph's model failing reads as chat's own turn on that provider does"
    kept = summary(stored(env.get("CHATCLI_DB") or str(Path(env["XDG_DATA_HOME"]) / "chatcli" / "chat.db"), "graphs"))
    assert kept[0][:2] == ("human", "will this work?"), kept
