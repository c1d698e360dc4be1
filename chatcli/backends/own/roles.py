"""Roles: named personas kept as files, ``$XDG_CONFIG_HOME/chatcli/roles/NAME.toml`` or ``NAME.md``.

A ``.toml`` role has ``system`` (the system prompt) and optionally ``model``, ``temperature``
and ``vars`` (values for ``{name}`` placeholders in the prompt); a ``.md`` role is its text,
used as the system prompt. ``chat --role NAME`` starts (or sets) a thread with it, ``/role NAME``
switches the thread at the prompt, ``chat roles`` lists them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from chatcli.core.inputs import check_model_name
from chatcli.errors import ConfigError, UsageError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Role:
    """A role as its file says it."""

    name: str
    system: str
    path: Path
    model: str | None = None
    temperature: float | None = None
    vars: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """The first line of its system prompt, cut."""
        line = " ".join(self.system.split())
        return line if len(line) <= 70 else line[:69] + "…"


def _parse(path: Path) -> Role:
    name = path.stem
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix == ".md":
        if not text.strip():
            raise ConfigError(f"{path}: the role is empty (its text is the system prompt)")
        return Role(name, text.strip(), path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    system = data.get("system")
    if not isinstance(system, str) or not system.strip():
        raise ConfigError(f'{path}: a role needs system = "..." (its system prompt)')
    unknown = set(data) - {"system", "model", "temperature", "vars"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {sorted(unknown)[0]!r}", hint="a role has system, model, temperature and vars"
        )
    model, temperature, variables = data.get("model"), data.get("temperature"), data.get("vars", {})
    if model is not None:
        try:
            check_model_name(model if isinstance(model, str) else "")
        except UsageError:
            raise ConfigError(f"{path}: model must be a model name (printable, no spaces)") from None
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            raise ConfigError(f"{path}: temperature must be a number from 0 to 2")
        temperature = float(temperature)
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ConfigError(f"{path}: vars must be a table of strings")
    return Role(name, system.strip(), path, model, temperature, dict(variables))


def _files(directory: Path) -> dict[str, Path]:
    """Each role's file by name (a .toml and a .md of the same name: the .toml)."""
    if not directory.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix in (".toml", ".md") and path.is_file() and _NAME.fullmatch(path.stem):
            if path.stem not in found or path.suffix == ".toml":
                found[path.stem] = path
    return dict(sorted(found.items()))


def role_names(directory: Path) -> list[str]:
    """The names of the roles in ``directory``, without reading them."""
    return list(_files(directory))


def list_roles(directory: Path, problems: list[str] | None = None) -> list[Role]:
    """Every role in ``directory`` that reads well, by name; each one that does not adds its error line to
    ``problems``."""
    roles = []
    for path in _files(directory).values():
        try:
            roles.append(_parse(path))
        except ConfigError as exc:  # one broken file must not hide the others
            if problems is not None:
                problems.append(str(exc))
    return roles


def read_role(roles_dir: str | None, name: str | None) -> Role | None:
    """The role a door names (``--role NAME``, a request's ``role``), read now from ``roles_dir`` (the settings'):
    an unknown one fails before anything runs; None when none is named."""
    return load_role(Path(roles_dir or ""), name) if name is not None else None


def load_role(directory: Path, name: str) -> Role:
    """The role ``name``, or one line naming where roles live (exit 2)."""
    if not _NAME.fullmatch(name):
        raise UsageError(f"{name!r} is not a role name (letters, digits, - _ .)")
    for suffix in (".toml", ".md"):
        path = directory / f"{name}{suffix}"
        if path.is_file():
            return _parse(path)
    known = ", ".join(role_names(directory)) or "none yet"
    raise UsageError(
        f"no role {name!r} in {directory} (known: {known})",
        hint="a role is NAME.toml or NAME.md there; chat roles lists them",
    )
