"""Where chatcli keeps things: the user's config and data directories and the files in them (nothing is created here)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping


def config_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The user's config directory for chatcli ($XDG_CONFIG_HOME/chatcli): config.toml, mcp.json, roles/."""
    if environ.get("XDG_CONFIG_HOME"):
        return Path(environ["XDG_CONFIG_HOME"]) / "chatcli"
    from platformdirs import user_config_dir

    return Path(user_config_dir("chatcli"))


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the config file lives: $CHATCLI_CONFIG or $XDG_CONFIG_HOME/chatcli/config.toml."""
    if environ.get("CHATCLI_CONFIG"):
        return Path(environ["CHATCLI_CONFIG"]).expanduser()
    return config_dir(environ) / "config.toml"


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The user's data directory for chatcli ($XDG_DATA_HOME/chatcli); not created here."""
    if environ.get("XDG_DATA_HOME"):
        return Path(environ["XDG_DATA_HOME"]) / "chatcli"
    from platformdirs import user_data_dir

    return Path(user_data_dir("chatcli"))


def trust_store(environ: Mapping[str, str] = os.environ) -> Path:
    """The file that lists the .env files the user trusts (``chat trust``)."""
    return data_dir(environ) / "trusted-env.json"
