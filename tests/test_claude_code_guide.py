"""docs/claude-code.md holds true: each `chat` line of its shell blocks runs, in the order shown, in a home set up as
the guide describes (its marketplace, its command file taken from the page itself), and does what the page says."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.fakeserver import Reply
from tests.helpers import chat
from tests.test_plugins import marketplace

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "claude-code.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", GUIDE.read_text(), re.M | re.S)


def test_every_example_of_the_guide_runs_as_it_says(server, chat_env, tmp_path):
    home = Path(chat_env["HOME"])
    (command,) = blocks("markdown")
    (home / ".claude" / "commands").mkdir(parents=True)
    (home / ".claude" / "commands" / "review.md").write_text(command)
    marketplace(tmp_path / "my-marketplace")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("print('hi')\n")
    hooks = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}}
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps(hooks))  # the repository's own
    lines = [line for block in blocks("sh") for line in block.splitlines() if line.startswith("chat ")]
    assert len(lines) >= 9, lines
    server.queue(Reply("no bugs found"))

    said = {line: chat(chat_env, *shlex.split(line)[1:], cwd=tmp_path) for line in lines}

    assert all(run.code == 0 for run in said.values()), [run for run in said.values() if run.code]
    assert "installed tidy@acme 1.2.0" in said["chat plugin install tidy@acme --yes"].out
    assert "tidy@acme  1.2.0  enabled" in said["chat plugin list"].out
    assert said['chat "/review src/app.py"'].out == "no bugs found\n"
    asked = str(server.requests[-1]["messages"][-1]["content"])
    assert "Review src/app.py for bugs, and say how sure you are of each." in asked, asked
    assert "tidy:sweep" in said["chat skills"].out and "PreToolUse" in said["chat hooks"].out
    assert "chat trust --yes" in said["chat trust"].out + said["chat trust"].err  # no terminal: nothing trusted
    assert "untrusted" in said["chat hooks"].out
