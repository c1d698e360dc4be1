"""The keys chat writes into LangGraph's checkpoints, named once for the saver that writes them and the index that reads
them (standard library only: the index reads threads without LangChain)."""

from __future__ import annotations

# The key of the small dict that stands for a message list in a stored checkpoint (chatcli.store.messages.chains).
REF_KEY = "__chatcli_msgref__"

# The key of a checkpoint's metadata that says what chat's change made it: a compaction ("compact"), a summary edited
# ("edit"), one of those taken back ("undo"); chatcli.threads.tree shows the first two as nodes.
MARK = "chatcli_change"
# The key of a checkpoint's metadata that names the last message of its list (chatcli.store.messages.saver writes it):
# a message's node, null for no message yet, false for a list kept another way. A thread's tree reads it instead of
# decoding each checkpoint; a checkpoint without it (stored before) is decoded.
TAIL = "chatcli_tail"


def uuid6_time(checkpoint_id: str) -> float | None:
    """When a LangGraph checkpoint id (a UUID of version 6, made as its checkpoint is) was made, in seconds since the
    epoch; None for any other id."""
    try:
        value = int(checkpoint_id.replace("-", ""), 16)
    except ValueError:
        return None
    if len(checkpoint_id) != 36 or (value >> 76) & 0xF != 6:
        return None
    stamp = ((value >> 80) & 0xFFFFFFFFFFFF) << 12 | (value >> 64) & 0x0FFF  # 100 ns since 1582-10-15
    return (stamp - 0x01B21DD213814000) / 1e7
