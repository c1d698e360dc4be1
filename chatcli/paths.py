"""Where chatcli keeps things (the user's config and data directories and the files in them; nothing is
created here), and where this installation came from, for hints that add an optional part (an extra). Which build
of it runs is chatcli.local.daemon.build_id's (the warm worker and the MCP host retire when it changes).

chat is installed from its source (the README: ``pip install -e .`` in a checkout). The
registry name ``chatcli`` belongs to an unrelated project, so a hint never names a registry
package: it names the place this installation came from, as pip recorded it (PEP 610).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit


def _user_dir(environ: Mapping[str, str], variable: str, platform_dir: str) -> Path:
    """chatcli's directory under ``$variable`` when it is set, else where platformdirs' ``platform_dir`` says."""
    if environ.get(variable):
        return Path(environ[variable]) / "chatcli"
    import platformdirs

    return Path(getattr(platformdirs, platform_dir)("chatcli"))


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The user's config directory for chatcli ($XDG_CONFIG_HOME/chatcli): config.toml, mcp.json, roles/."""
    return _user_dir(environ, "XDG_CONFIG_HOME", "user_config_dir")


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the config file lives: $CHATCLI_CONFIG or $XDG_CONFIG_HOME/chatcli/config.toml."""
    if environ.get("CHATCLI_CONFIG"):
        return Path(environ["CHATCLI_CONFIG"]).expanduser()
    return config_dir(environ) / "config.toml"


def shown_path(path: Path, environ: Mapping[str, str] = os.environ) -> str:
    """``path`` as a person reads it: under the home directory, from ``~``."""
    home = environ.get("HOME")
    if home and path.is_relative_to(home) and Path(home) != Path("/"):
        return "~/" + str(path.relative_to(home))
    return str(path)


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The user's data directory for chatcli ($XDG_DATA_HOME/chatcli); not created here."""
    return _user_dir(environ, "XDG_DATA_HOME", "user_data_dir")


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The user's cache directory for chatcli ($XDG_CACHE_HOME/chatcli): what can be made again (MCP tool lists)."""
    if not environ.get("XDG_CACHE_HOME") and sys.platform.startswith("linux") and environ.get("HOME"):
        return Path(environ["HOME"]) / ".cache" / "chatcli"  # platformdirs' answer, without importing it
    return _user_dir(environ, "XDG_CACHE_HOME", "user_cache_dir")


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` whole with ``text`` (0600, its missing directories made private): written beside it under a
    name of this writer's own, then renamed over it, so that a reader sees the file before or after, never half."""
    import tempfile

    private_dir(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_bounded(path: Path, limit: int = 256 * 1024, follow: bool = False) -> bytes:
    """At most ``limit`` bytes of the regular file at ``path`` (a FIFO never blocks; a link there fails unless
    ``follow``): an OSError as the system says, a ValueError past that. Hooks read their settings files with it."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    with open(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit // 1024} KiB")
    return data


def real(path: Path, folder_real: bool = False) -> Path | None:
    """``path`` with every link resolved; None for a link loop (one a ``..`` after it seems to undo too: what it
    resolves to then is a name, maybe itself a link) or a path no file can have (a NUL in it). Where its folder is
    known to have no link in it (``folder_real``), only ``path`` itself is looked at."""
    with contextlib.suppress(OSError, RuntimeError, ValueError):
        if folder_real and not os.path.islink(path):
            return path
        found = path.resolve()
        return found if found.resolve() == found else None
    return None


def private_dir(path: Path) -> Path:
    """``path``, made where it is missing with each level made the user's alone (0700: ``mkdir(parents=True)``
    gives its mode to the last level only); what exists is left as it is."""
    if not path.is_dir():
        if path.parent != path:
            private_dir(path.parent)
        with contextlib.suppress(FileExistsError):  # another process, at the same moment
            os.mkdir(path, 0o700)
    return path


def trust_store(environ: Mapping[str, str] = os.environ) -> Path:
    """The file that lists the .env files the user trusts (``chat trust``)."""
    return data_dir(environ) / "trusted-env.json"


def listening_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where each ``chat serve --socket`` notes its socket (a file named by its pid), for the sandbox to mask."""
    return data_dir(environ) / "listening"


# The distribution's name (pyproject.toml); the import package and the `chat` command are "chatcli" and "chat".
DISTRIBUTION = "chatcli-langgraph"


@lru_cache(maxsize=1)
def install_origin() -> tuple[str, bool] | None:
    """Where this installation came from (a directory or a URL) and whether it is editable; None if unknown."""
    from importlib import metadata

    here = Path(__file__).resolve().parent
    names = [*(metadata.packages_distributions().get("chatcli") or []), DISTRIBUTION, "chatcli"]
    found = (dist for name in dict.fromkeys(names) for dist in metadata.distributions(name=name))
    for dist in found:  # a checkout's own egg-info comes first on sys.path there: it has no record
        try:
            record = json.loads(dist.read_text("direct_url.json") or "")
        except (OSError, ValueError):
            continue
        url = record.get("url") if isinstance(record, dict) else None
        if not isinstance(url, str) or not url:
            continue
        parts = urlsplit(url)
        if parts.scheme == "file":
            where = Path(unquote(parts.path))
            editable = bool((record.get("dir_info") or {}).get("editable"))
            if editable and not here.is_relative_to(where.resolve()):
                continue  # another project's distribution of that name
            return str(where), editable
        if any(str(f).replace("\\", "/") == "chatcli/__init__.py" for f in dist.files or []):
            return url, False
    return None


def install_line(extra: str, pip_options: str = "") -> str:
    """The pip command that adds ``extra`` to this installation, from where it was installed."""
    options = f"{pip_options} " if pip_options else ""
    origin = install_origin()
    if origin is None:
        return f'pip install {options}-e ".[{extra}]" (in your chatcli checkout)'
    where, editable = origin
    if where.startswith("/"):
        return f'pip install {options}{"-e " if editable else ""}"{where}[{extra}]"'
    return f'pip install {options}"{DISTRIBUTION}[{extra}] @ {where}"'


def read_config_file(path: Path) -> dict[str, Any]:
    """Read the TOML config file; a missing file is an empty layer."""
    import tomllib

    from chatcli.errors import ConfigError  # not at the top: the launcher imports this module, and no more

    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return {key.replace("-", "_"): value for key, value in data.items()}
