"""The MCP SDK of the 2025 era (mcp 1.x) beside the tests' own (2.x), for the servers of that era: the servers in
this folder written with FastMCP run on it, so chat's client is tested against real servers of both eras.

``python tests/mcp/legacy.py`` (the README's install line, and .ci/run's) installs mcp 1.x and the few packages it
has and 2.x has not into tests/mcp/.mcp1 (a PYTHONPATH overlay: about 5 MB, seconds, kept between runs): nothing is
installed while the tests run, and tests/conftest.py stops at once, saying the command, where it is missing. A server
of the old era starts with ``import legacy`` (this folder is its sys.path[0]), which puts the overlay first.
"""

import subprocess
import sys
from pathlib import Path

OVERLAY = Path(__file__).resolve().parent / ".mcp1"
REQUIREMENTS = ("mcp==1.30.0", "httpx>=0.27,<1", "httpcore>=1,<2", "httpx-sse>=0.4,<1", "pydantic-settings>=2.5")
MARK = OVERLAY / ("built-" + "-".join(r.replace(">", "").replace("=", "").replace("<", "_") for r in REQUIREMENTS))


def build() -> None:
    """The overlay, made once (a change of REQUIREMENTS makes it anew)."""
    if MARK.exists():
        return
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade", "--target", str(OVERLAY)]
        + list(REQUIREMENTS),
        check=True,
    )
    MARK.touch()


if __name__ == "__main__":
    build()
elif __name__ == "legacy" and OVERLAY.is_dir():  # imported by a server of the old era (its folder on sys.path)
    sys.path.insert(0, str(OVERLAY))
