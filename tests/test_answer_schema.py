"""One schema, owned once (chatcli.core.answer): the command line's `--json`/`--jsonl` and `chat serve`'s
answers are those models' objects, field by field, and the API's OpenAPI document is made from them. ``chat serve``
is asked in this process (tests/doors/serve.py)."""

from __future__ import annotations

import json

from chatcli.core import answer as schema
from tests.doors.serve import AppServed
from tests.fakeserver import Fault, Reply, tool_calls
from tests.helpers import chat


def _fields(model) -> set[str]:
    return set(model.model_fields)


def test_a_json_answer_and_an_api_answer_are_the_same_object_of_the_schema(server, chat_env):
    server.queue(Reply("<think>hm</think>Paris.", usage=True), Reply("<think>hm</think>Paris.", usage=True))
    line = chat(chat_env, "--json", "-t", "cli", "capital of France?")
    cli = json.loads(line.out)
    served = AppServed(chat_env)
    try:
        status, api = served.ask("api", "capital of France?")
        assert status == 200
        server.queue(Reply("Paris."))
        events = list(served.events("/v1/threads/api2/messages", {"content": "again"}))
        openapi = served.request("GET", "/openapi.json")[1]
    finally:
        served.stop()
    for obj in (cli, api):
        schema.Answer.model_validate(obj)  # every field of the schema's type; no field it lacks
        assert set(obj) == _fields(schema.Answer) - {"approval_required", "interrupts"}, set(obj) ^ _fields(
            schema.Answer
        )
    same = {k for k in cli if k not in ("thread_id", "timing")}
    assert {k: cli[k] for k in same} == {k: api[k] for k in same}
    assert cli["reply"] == "Paris." and cli["reasoning"] == "hm" and cli["usage"]["total_tokens"] > 0
    for event in events:  # each --jsonl event as SSE data is one of the schema's events
        shape = next(e for e in schema.EVENTS if e.model_fields["type"].default == event["type"])
        shape.model_validate(event)
    assert events and events[-1]["type"] == "done"
    documented = openapi["components"]["schemas"]
    assert set(documented["Answer"]["properties"]) == _fields(schema.Answer)
    assert set(documented["Failure"]["properties"]) == _fields(schema.Failure)


def test_jsonl_events_and_a_failure_are_the_schemas_too(server, chat_env, tmp_path):
    server.queue(tool_calls(("read_file", {"path": "notes.txt"})), Reply("Done."))
    (tmp_path / "notes.txt").write_text("hello\n")
    run = chat(chat_env, "--jsonl", "--tools", "files", "--yes", "read it", cwd=tmp_path)
    events = [json.loads(line) for line in run.out.splitlines()]
    kinds = [e["type"] for e in events]
    assert "tool_call" in kinds and "tool_result" in kinds and kinds[-1] == "done", kinds
    for event in events:
        shape = next(e for e in schema.EVENTS if e.model_fields["type"].default == event["type"])
        shape.model_validate(event)
    server.queue(Fault(status=500))
    failed = json.loads(chat(chat_env, "--json", "this fails").out)
    schema.Failure.model_validate(failed)
    assert set(failed) == _fields(schema.Failure)
