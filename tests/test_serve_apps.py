"""Two `chat serve` apps in one process (as in a program that embeds chat, or the tests): each owns its turns.

One app stopping (its lifespan ends: SIGTERM, Ctrl-C) stops its own answers, keeping their partials, and
never another app's answer, which goes on to its end.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace

from chatcli.api.guard import Addresses
from chatcli.api.server import create_app
from tests.fakeserver import Reply


def test_an_app_that_stops_stops_its_own_answers_and_no_other_apps(server, settings, tmp_path):
    from starlette.testclient import TestClient

    first = create_app(settings, Addresses(None))
    second = create_app(replace(settings, db=str(tmp_path / "second.db")), Addresses(None))
    server.queue(Reply(tokens=[f" word{i}" for i in range(40)], delay=0.05))
    events: list[dict] = []
    began = threading.Event()

    with TestClient(first) as asking:

        def ask() -> None:
            with asking.stream(
                "POST", "/v1/threads/long/messages", json={"content": "talk"}, headers={"Accept": "text/event-stream"}
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        began.set()

        reader = threading.Thread(target=ask)
        reader.start()
        assert began.wait(30), "the answer never began"
        with TestClient(second) as other:  # another app starts and stops while the first one's answer streams
            assert other.get("/v1/threads").status_code == 200
        reader.join(60)

    done = [e for e in events if e["type"] == "done"]
    assert done and not done[0].get("interrupted"), done
    text = "".join(e["text"] for e in events if e["type"] == "token")
    assert text.endswith("word39"), "the other app's stop cut this answer"
