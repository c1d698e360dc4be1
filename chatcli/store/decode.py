"""Stored checkpoints and messages read as plain data, without LangGraph or LangChain.

LangGraph's serializer writes msgpack in which objects are extension types holding
(module, class, arguments). Listing, showing, exporting and searching need only the
arguments: a message comes back as the dict its ``model_dump()`` gave (``type``,
``content``, ``additional_kwargs``, ``response_metadata``, ``tool_calls``...), so those
commands never import the model stack (about a second of start-up).
"""

from __future__ import annotations

import json
from typing import Any

import ormsgpack

# LangGraph's extension codes (langgraph.checkpoint.serde.jsonplus): each payload is a msgpack
# tuple whose third item is what the object was built from.
_DELTA_SNAPSHOT = 7
_NUMPY_ARRAY = 6


def _ext_hook(code: int, data: bytes) -> Any:
    try:
        value = ormsgpack.unpackb(data, ext_hook=_ext_hook, option=ormsgpack.OPT_NON_STR_KEYS)
    except (ormsgpack.MsgpackDecodeError, ValueError):
        return None
    if code == _DELTA_SNAPSHOT:
        return value
    if code == _NUMPY_ARRAY or not isinstance(value, (list, tuple)) or len(value) < 3:
        return None
    if value[0] == "uuid" and value[1] == "UUID" and isinstance(value[2], str):
        hex_ = value[2]
        return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"
    return value[2]


def loads(type_: str, blob: bytes | None) -> Any:
    """A stored value (LangGraph's ``(type, bytes)`` pair) as plain dicts, lists, strings and numbers."""
    if type_ in ("null", "empty") or blob is None:
        return None
    if type_ == "msgpack":
        return ormsgpack.unpackb(bytes(blob), ext_hook=_ext_hook, option=ormsgpack.OPT_NON_STR_KEYS)
    if type_ == "json":
        return json.loads(blob)
    if type_ in ("bytes", "bytearray"):
        return bytes(blob)
    raise ValueError(f"cannot read a stored value of type {type_!r}")
