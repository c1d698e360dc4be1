"""Spending limits with every provider's fake (tests/providers.py), prices from config.toml's [prices]: an answer
streaming past its limit is stopped and kept, a tool loop's third call and a compaction that could pass a limit are
never sent. (The guard's arithmetic, and the ledger on each store: tests/test_spending_guard.py,
tests/test_spending_ledger.py.)"""

from __future__ import annotations

import pytest

from tests.fakeserver import Reply


def _config(home, text: str) -> None:
    path = home / ".config" / "chatcli" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _priced(row, limits: str) -> str:
    """config.toml for ``row``'s model at $10 a million tokens in and $100 out, answers of at most 1,000 tokens."""
    return f'max_tokens = 1000\n{limits}\n[prices."{row.model}"]\ninput = 10.0\noutput = 100.0\n'


def test_an_answer_streaming_past_its_limit_is_stopped_and_kept_with_every_provider(provider, isolated_env):
    """A server that streams past the answer's most (here: one that ignores max_tokens) is stopped where the running
    cost reaches the limit; what was shown is kept in the thread, marked incomplete, and the thread goes on."""
    import json

    from tests.helpers import chat

    row, fake, env = provider
    _config(isolated_env, _priced(row, "max_cost_answer = 0.12"))
    words = [f"w{n:04d} " for n in range(4000)]  # 24,000 characters: about 6,000 tokens, $0.60 at $100 a million
    fake.queue(Reply(tokens=words))
    stopped = chat(env, "-t", "long", "tell me everything")
    assert stopped.code == 6, stopped
    assert "the answer was stopped at about" in stopped.err and "max_cost_answer" in stopped.err, stopped
    assert stopped.out.startswith("w0000 w0001") and "w9999" not in stopped.out, stopped
    shown = json.loads(chat(env, "export", "long", "-f", "json").out)
    [kept] = [m for m in shown["messages"] if m["role"] == "assistant"]
    assert kept["content"].startswith("w0000 w0001") and "w3999" not in kept["content"], kept
    assert 2_000 < len(kept["content"]) < 24_000 * 0.2 + 2_000, len(kept["content"])  # stopped near $0.12 of $0.60
    fake.queue(Reply("the rest"))
    again = chat(env, "--max-cost", "1", "-t", "long", "go on")
    assert again.code == 0 and "the rest" in again.out, again
    assert "w0000 w0001" in json.dumps(fake.requests[-1]), "the kept part went with the next question"


def test_a_tool_loop_s_third_call_past_the_answer_s_limit_is_never_sent_with_every_provider(
    provider, isolated_env, tmp_path
):
    """Each tool result makes the next request dearer: the third call could pass the answer's limit, so it is
    refused before it is sent, and the two results already read stay in the thread."""
    from tests.fakeserver import Calls
    from tests.helpers import chat

    row, fake, env = provider
    _config(isolated_env, _priced(row, "max_cost_answer = 0.18"))
    # About 4,500 tokens each (within a tool result's 20,000 characters): the second call's most is $0.045 in and
    # $0.10 out, the third's $0.09 and $0.10: past $0.18 whatever the second cost.
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"{name} " + "lorem ipsum dolor sit amet " * 660)
    fake.queue(Calls([("read_file", {"path": "a.txt"}, "call_1")]))
    fake.queue(Calls([("read_file", {"path": "b.txt"}, "call_2")]))
    fake.queue(Reply("never asked"))
    run = chat(env, "-t", "loop", "--tools", "files", "--yes", "read both", cwd=tmp_path)
    assert run.code == 6 and "max_cost_answer" in run.err and "not asked" in run.err, run
    assert len(fake.requests) == 2, "the third request was never sent"
    shown = chat(env, "show", "loop")
    assert "a.txt" in shown.out and "b.txt" in shown.out, shown  # both calls and their results are kept


def test_a_compaction_that_could_pass_the_thread_s_limit_is_refused_before_it_is_sent_with_every_provider(
    provider, isolated_env
):
    """With memory = "compact", the summary of the earlier turns is a model call too: held within the thread's limit
    before it is sent, and a question it would take past the limit is refused and kept, never asked without it."""
    import asyncio
    import json

    from chatcli.backends.own.spending import day_start
    from chatcli.store import open_store
    from tests.helpers import chat

    row, fake, env = provider
    # A day's limit no turn reaches keeps the ledger; the thread's limit is set for the third question only.
    _config(isolated_env, _priced(row, 'memory = "compact"\ncontext_tokens = 3000\nmax_cost_day = 100'))
    for n in range(2):  # two long questions (about 1,050 tokens each) with short answers
        fake.queue(Reply("noted"))
        run = chat(env, "-t", "fold", f"turn {n} " + "lorem ipsum " * 350)
        assert run.code == 0, run

    async def spent() -> float:
        async with open_store(env.get("CHATCLI_DB") or str(isolated_env / ".local/share/chatcli/chat.db")) as store:
            return (await store.index.spent("fold", day_start())).thread

    asked, before = len(fake.requests), asyncio.run(spent())
    assert before > 0, "the turns were kept in the ledger"
    # $0.10 of room: any call's most is more (its answer's 1,000 tokens at $100 a million, and its request).
    limited = {**env, "CHATCLI_MAX_COST_THREAD": f"{before + 0.10:.6f}"}
    question = "and now? " + "lorem ipsum " * 350  # past the share of the budget that starts a fold
    refused = chat(limited, "-t", "fold", question)
    assert refused.code == 6 and "not asked: the summary of the earlier turns" in refused.err, refused
    assert "max_cost_thread" in refused.err and "could not compact" not in refused.err, refused
    assert len(fake.requests) == asked, "neither the summary nor the question was sent"
    assert asyncio.run(spent()) == before, "nothing is held for a call refused"
    shown = json.loads(chat(env, "export", "fold", "-f", "json").out)
    assert shown["messages"][-1]["content"] == question, "the question is kept"


@pytest.mark.slow  # model calls to each limit, one provider a case: a second and more each
def test_a_graph_s_own_model_calls_are_kept_within_the_limits_with_every_provider(
    provider, isolated_env, tmp_path, monkeypatch
):
    """A LangGraph app of the user's (``--graph``) calls its provider through LangChain: chat's meter rides in the
    run's callbacks, so each call is held before it is sent, at the most its own client asks for (each provider's
    name for max_tokens), and stopped as it streams past a limit; a client that asks for no most is refused."""
    from dataclasses import replace

    from tests.helpers import chat
    from tests.matrix import plain_graph

    row, fake, env = provider
    for name, value in row.env(fake).items():  # the graph's module reads its provider's address and key itself
        monkeypatch.setenv(name, value)
    bare = row.model.partition(":")[2]  # the name the graph's own model client sends
    prices = f'[prices."{bare}"]\ninput = 10.0\noutput = 100.0\n'
    _config(isolated_env, "max_cost_answer = 1.0\n" + prices)
    unbounded = chat(env, "--graph", plain_graph(tmp_path, row), "-t", "g0", "hello")
    if row.name == "anthropic":  # its client always sends max_tokens: 4,096 tokens, $0.41
        assert unbounded.code == 0, unbounded
    else:
        assert unbounded.code == 6 and "could cost is not known" in unbounded.err and not fake.requests, unbounded
    asked = len(fake.requests)
    imported, model = row.graph_model
    named = {"google_genai": "max_output_tokens", "ollama": "num_predict"}.get(row.name, "max_tokens")
    graph = plain_graph(tmp_path, replace(row, graph_model=(imported, f"{model[:-1]}, {named}=4096)")))
    _config(isolated_env, "max_cost_answer = 0.00001\n" + prices)  # less than any request's tokens cost
    refused = chat(env, "--graph", graph, "-t", "g", "hello")
    assert refused.code == 6 and "not asked" in refused.err and "max_cost_answer" in refused.err, refused
    assert len(fake.requests) == asked, "nothing was sent"
    # The client's max_tokens bounds a call's most (4,096 tokens, $0.41): a dollar passes it, and a server streaming
    # past it (here: 15,000 tokens, $1.50) is stopped at the dollar.
    _config(isolated_env, "max_cost_answer = 1.0\n" + prices)
    fake.queue(Reply(tokens=[f"w{n:04d} " for n in range(10000)]))
    stopped = chat(env, "--graph", graph, "-t", "g2", "tell me everything")
    assert stopped.code == 6 and "the answer was stopped at about" in stopped.err, stopped
    assert stopped.out.startswith("w0000 w0001") and "w9999" not in stopped.out, stopped
