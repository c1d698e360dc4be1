"""The local model's install, timed: llama-cpp-python's wheel compiled with docs/local-model.md's flags, against
the same build with llama.cpp's `common` library left in (the flags before chatcli/local/llama_only.cmake).

Run (minutes: each build compiles llama.cpp once; the machine should be otherwise quiet)::

    .venv/bin/python benchmarks/local_build_bench.py            # both builds, one after the other
    .venv/bin/python benchmarks/local_build_bench.py --write    # and write benchmarks/results-local-build.md

Each build is ``pip wheel --no-cache-dir --no-deps llama-cpp-python`` from the same downloaded source, with
``CMAKE_ARGS`` set; wall time and the CPU time of the build's processes are measured, and their ratios given.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from chatcli.local.server import ONLY_LLAMA  # noqa: E402

PORTABLE = "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
BUILDS = {
    "chat's flags (llama only)": f"{PORTABLE} -DCMAKE_PROJECT_INCLUDE={ONLY_LLAMA}",
    "portable, with common": PORTABLE,
}


def build(source: Path, flags: str, out: Path) -> tuple[float, float]:
    """Compile ``source`` into a wheel in ``out`` with ``flags``: (wall seconds, CPU seconds of the children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-cache-dir", "--no-deps", str(source), "-w", str(out)],
        env={**os.environ, "CMAKE_ARGS": flags},
        check=True,
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write benchmarks/results-local-build.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
            + ["llama-cpp-python>=0.3", "-d", tmp],
            check=True,
        )
        source = next(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        results = {name: build(source, flags, Path(tmp) / str(i)) for i, (name, flags) in enumerate(BUILDS.items())}
    ours, full = results.values()
    lines = [
        f"# The local model's build, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"{source.name} · {platform.machine()} · nproc {os.cpu_count()} · `benchmarks/local_build_bench.py`",
        "",
        "| build | wall | CPU |",
        "|---|---|---|",
        *(f"| {name} | {wall:.0f} s | {cpu:.0f} s |" for name, (wall, cpu) in results.items()),
        f"| ratio | {ours[0] / full[0]:.2f}x | {ours[1] / full[1]:.2f}x |",
    ]
    print("\n".join(lines))
    if args.write:
        (HERE / "results-local-build.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
