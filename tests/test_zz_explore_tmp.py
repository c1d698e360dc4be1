import time
from tests.fakeserver import Raw, sse, delta_chunk
from tests.helpers import Repl

def think_reply(chunks, answer, pause=0.1, key="reasoning_content"):
    parts = [sse(delta_chunk({"role": "assistant", "content": ""}))]
    for c in chunks:
        parts += [sse(delta_chunk({key: c})), pause]
    parts += [0.3, sse(delta_chunk({"content": answer})), sse(delta_chunk({}, finish_reason="stop")), b"data: [DONE]\n\n"]
    return Raw(parts)

def test_x(server, chat_env, start):
    words = [f"th{i:03d}" for i in range(60)]
    chunks = [" ".join(words[i:i+10]) + " " for i in range(0, 60, 10)]
    server.queue(think_reply(chunks, "The answer is 42."))
    repl = start("--thread", "x")
    at = repl.say("question one")
    raw_at = len(repl.raw)
    repl.wait_for("The answer is 42.", after=at)
    repl.wait_prompt()
    print(repr(repl.raw[raw_at:]))
    assert 0
