"""How chat speaks to each provider: one module a provider, each with a ``PROVIDER``
(a chatcli.providers.base.Provider) that builds its models and sorts its client's errors.

What each provider is (its names, variables, client modules) is its row in chatcli.provider_table, on the
ground floor, which the settings read without importing this package. A provider's module is imported only when
one of its models is used, and its library only when a model is built, so start-up does not grow with
the providers installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from chatcli.providers.registry import split

if TYPE_CHECKING:
    from chatcli.providers.base import Provider


def provider(name: str) -> "Provider":
    """The provider called ``name`` (one of chatcli.provider_table.NAMES)."""
    found: Provider = importlib.import_module(f"chatcli.providers.{name}").PROVIDER
    return found


def provider_of(spec: str) -> "tuple[Provider, str]":
    """The provider of a model as the user names it, and the model's own name."""
    name, model = split(spec)
    return provider(name), model
