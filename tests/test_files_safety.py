"""Files that are not files: ``-a`` and the files tool refuse a FIFO or a device at once."""

from __future__ import annotations

import os
import time
import pytest

from tests.fakeserver import Reply, tool_calls
from tests.helpers import assert_one_error_line, chat, chat_process
from tests.test_tools import tool_messages

# --------------------------------------------------------------------------- not a regular file


@pytest.mark.parametrize("kind, says", [("fifo", "a FIFO (named pipe)"), ("device", "a character device")])
def test_attaching_a_fifo_or_a_device_is_refused_at_once(server, chat_env, tmp_path, kind, says):
    target = "/dev/zero"  # read whole, it would fill the memory
    if kind == "fifo":
        target = str(tmp_path / "pipe")
        os.mkfifo(target)  # nobody writes: opening it to read would wait forever
    started = time.monotonic()
    run = chat(chat_env, "-a", target, "what is in it?")
    line = assert_one_error_line(run, 2)
    assert line == f"chat: error: cannot attach {target}: it is {says}, not a regular file (nothing was sent)"
    assert time.monotonic() - started < 5 and server.requests == []


@pytest.mark.e2e
def test_read_file_on_a_fifo_is_an_error_result_and_chat_exits(server, chat_env, tmp_path):
    os.mkfifo(tmp_path / "pipe")
    server.queue(tool_calls(("read_file", {"path": "pipe"}), ("read_file", {"path": "/dev/zero"})), Reply("could not read"))
    started = time.monotonic()
    run = chat_process(chat_env, "--tools", "files", "--yes", "read them", cwd=tmp_path)
    assert run.code == 0 and run.out == "could not read\n", run
    assert time.monotonic() - started < 20
    fifo, device = (m["content"] for m in tool_messages(server.requests[1]))
    assert fifo == f"error: {tmp_path / 'pipe'} is a FIFO (named pipe), not a regular file: not read"
    assert device == "error: /dev/zero is a character device, not a regular file: not read"
