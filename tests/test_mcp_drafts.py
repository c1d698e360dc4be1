"""What MCP's drafts after 2026-07-28 ask of a client, against a server that speaks them as their SEPs are written
(tests/mcp/drafts.py, by hand, over streamable HTTP from a thread of this process): a tool whose schema chat cannot
offer costs that tool alone, said in one line (SEP-2106, SEP-2243); a 2020-12 schema reaches the model whole
(SEP-2106); a call's ``requestState`` comes back on its own retry only (SEP-2322); parameters marked ``x-mcp-header``
go in ``Mcp-Param-*`` headers, encoded as SEP-2243 says."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import chat
from tests.matrix import doors
from tests.test_mcp import write_servers
from tests.test_mcp_lazy import results
from tests.test_tool_names import offered

sys.path.insert(0, str(Path(__file__).parent / "mcp"))
from drafts import Drafts, encoded  # noqa: E402


@pytest.fixture
def drafts(chat_env: dict[str, str]) -> Iterator[Drafts]:
    served = Drafts()
    write_servers(chat_env, {"drafts": {"url": served.url}})
    yield served
    served.close()


def schema_of(body: dict, name: str) -> dict:
    """The JSON schema a request offered tool ``name`` with, in every provider's wire format."""
    for tool in body.get("tools") or []:
        for each in tool.get("functionDeclarations") or [
            tool.get("function") or tool
        ]:  # Gemini's, OpenAI's, Anthropic's
            if each.get("name") == name:
                return each.get("parameters") or each.get("input_schema") or each.get("parametersJsonSchema")
    raise KeyError(name)


def test_a_schema_chat_cannot_offer_costs_that_tool_alone_said_in_one_line(server, chat_env, drafts):
    server.queue(Reply("fine"))
    run = chat(chat_env, "--yes", "hello")
    assert run.code == 0 and run.out == "fine\n", run
    assert {name for name, _ in offered(server.requests[-1])} >= {"route", "shaped", "confirm"}
    assert not {"remote", "badheader"} & {name for name, _ in offered(server.requests[-1])}
    ref = f"{drafts.url}/thing.json"
    said = [line for line in run.err.splitlines() if "leaves out" in line]
    assert said == [
        "MCP server drafts offers badheader, which chat leaves out: its x-mcp-header 'My Region' is not one a client "
        "may send (SEP-2243)",
        f"MCP server drafts offers remote, which chat leaves out: its schema's $ref leads off the server ({ref}), "
        "which chat does not follow",
    ], run.err
    assert not [body for _, body in drafts.seen if "GET" in body]  # the $ref was never fetched
    listing = json.loads(chat(chat_env, "tools", "--json").out)[0]["not_offered"]
    assert {row["name"]: row["why"].split(" (")[0] for row in listing} == {
        "badheader": "its x-mcp-header 'My Region' is not one a client may send",
        "remote": "its schema's $ref leads off the server",
    }


def test_a_2020_12_schema_reaches_the_model_whole_or_inlined_where_its_provider_takes_no_ref(provider, drafts):
    row, fake, env = provider
    fake.queue(Reply("ok"))
    assert chat(env, "hello").code == 0
    sent = schema_of(fake.requests[0], "shaped")
    point = {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}}
    if row.name in ("google_genai", "ollama"):  # their wire formats take no $ref: inlined
        assert "$ref" not in json.dumps(sent) and sent["properties"]["at"]["type"] in ("object", "OBJECT"), sent
        if row.name == "google_genai":  # (Ollama's client sends no property's own properties, whatever they are)
            assert sent["properties"]["at"]["properties"].keys() == {"x", "y"}, sent
    else:
        assert sent["$schema"] == "https://json-schema.org/draft/2020-12/schema", sent
        assert sent["$defs"] == {"point": point} and sent["properties"]["at"] == {"$ref": "#/$defs/point"}, sent


@doors("cold", "worker")
def test_each_call_s_request_state_comes_back_on_its_own_retry(server, door, drafts):
    server.queue(tool_calls(("confirm", {"n": 1}), ("confirm", {"n": 2})), Reply("done"))
    run = door.chat("--yes", "confirm both")
    assert run.code == 0, run
    assert sorted(results(server.requests[-1])) == ["confirmed 1 (decline)", "confirmed 2 (decline)"]
    for n in (1, 2):  # each round a new request (its own id), the state its call was given echoed as it was
        rounds = [body for _, body in drafts.calls("confirm") if body["params"]["arguments"] == {"n": n}]
        assert [(b["params"].get("requestState"), b["params"].get("inputResponses")) for b in rounds] == [
            (None, None),
            (f"{n}:asked", {"go": {"action": "decline"}}),
            (f"{n}:decline:waited", None),
        ]
    ids = [body["id"] for _, body in drafts.calls("confirm")]
    assert len(set(ids)) == len(ids) == 6


@doors("cold", "worker")
def test_parameters_marked_x_mcp_header_go_in_mcp_param_headers_encoded_as_sep_2243_says(server, door, drafts):
    first = {"region": "us-west1", "count": 42, "flag": True, "where": {"zone": " padded "}, "query": "a"}
    second = {"region": "日本語", "flag": False, "where": {}, "query": "b"}
    server.queue(tool_calls(("route", first)), tool_calls(("route", second)), Reply("done"))
    run = door.chat("--yes", "route them")
    assert run.code == 0 and results(server.requests[-1]) == ["routed a", "routed b"], run
    sent = [{k: v for k, v in headers.items() if k.startswith("Mcp-Param-")} for headers, _ in drafts.calls("route")]
    assert sent == [  # each call sent once (never refused), with the headers the SEP's own table gives
        {"Mcp-Param-Region": "us-west1", "Mcp-Param-Count": "42", "Mcp-Param-Flag": "true",
         "Mcp-Param-Zone": "=?base64?IHBhZGRlZCA=?="},
        {"Mcp-Param-Region": "=?base64?5pel5pys6Kqe?=", "Mcp-Param-Flag": "false"},
    ]  # fmt: skip
    assert encoded("=?base64?literal?=") == "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="  # (the server's own encoder)


def test_chat_tools_names_the_mcp_param_headers_a_tool_s_calls_send(chat_env, drafts):
    listed = chat(chat_env, "tools")
    lines = listed.out.splitlines()
    sent = "Mcp-Param-Count, Mcp-Param-Flag, Mcp-Param-Region, Mcp-Param-Zone"
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("route "))
    assert lines[at + 1].split() == ["sends", *sent.split(), "(SEP-2243)"], listed
    assert sum("sends Mcp-Param-" in line for line in lines) == 1, listed
    assert json.loads(chat(chat_env, "tools", "--json").out)[0]["mcp_param_headers"] == {"route": sent.split(", ")}
