"""Background replies run in this process (chatcli.service.jobs.Launcher): a thread of this process answers the
job's spec as the job's own process would (chatcli.app.background.answer), holding the spec's lock while it runs, so
that ``chat jobs``, ``chat attach`` and the inbox see it as they see a process. For the tests that are not about the
job's process (a signal, a killed process, a closed terminal, its environment)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO, Iterator, Mapping

import pytest


def in_this_process(spec: IO[bytes], out: IO[bytes], err: IO[bytes], environ: Mapping[str, str], cwd: Path) -> int:
    """Answer the job in a thread of this process; no process of its own to stop (``chat stop`` is about a process,
    and its tests start one)."""
    from chatcli.app.background import answer
    from chatcli.service.jobs import JobSpec

    held = os.dup(spec.fileno())  # the spec's lock, held while the job answers
    given = JobSpec.of_json(spec.read())
    set_up(given.overrides.get("db"))
    written = [open(os.dup(f.fileno()), "w", encoding="utf-8") for f in (out, err)]  # noqa: SIM115 - closed below

    def job() -> None:
        try:
            answer(given, written[0], written[1], dict(environ), cwd)
        finally:
            for handle in written:
                handle.close()
            os.close(held)

    threading.Thread(target=job, name=f"job {given.id}", daemon=True).start()
    return 0


def set_up(db: str | None) -> None:
    """The job's database made and migrated before the job runs beside the test: the store's set-up lock is a POSIX
    lock (chatcli.store.sqlite._byte_lock), one process's, which two threads of one process both take at once."""
    import asyncio

    from chatcli.store import open_store

    async def opened() -> None:
        async with open_store(db or ""):
            pass

    if db and "://" not in db:
        runner = threading.Thread(target=asyncio.run, args=(opened(),))
        runner.start()
        runner.join()


@pytest.fixture
def jobs_here() -> Iterator[None]:
    """Every background reply the test starts (``chat --bg``, ``chat inbox answer``, /bg) answered in this process."""
    from chatcli.service.jobs import LAUNCHER

    token = LAUNCHER.set(in_this_process)
    try:
        yield
    finally:
        LAUNCHER.reset(token)
