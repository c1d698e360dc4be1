"""Store chat messages once; let checkpoints refer to them.

LangGraph writes ~3 checkpoints per turn and every checkpoint holds the whole
``messages`` list, so a thread's storage grows quadratically.  ``MessageStoreSaver``
wraps any async ``BaseCheckpointSaver`` (here ``AsyncSqliteSaver``) and keeps
messages in a separate table of immutable *nodes*: one row per message, each
pointing at its parent, so a message list is a chain ``root -> ... -> tail`` and a
thread is a tree (retry and undo create branches).  Before a checkpoint reaches the
inner saver, each message list in ``channel_values`` is replaced by a small ref::

    {"__chatcli_msgref__": <tail node id or None>, "n": <list length>}

and only the messages not already stored are inserted.  Reading (``aget_tuple`` /
``alist``) turns refs back into lists.  Checkpoints without refs (written before
this wrapper, list stored inline) pass through unchanged and are converted on the
next write.

Prefix matching serializes nothing: a per-thread cache keeps the recent chains (node
ids + the very message objects that were stored or handed out), and a new list is
compared by object identity, a C loop over pointers.  Messages that may have been
changed are also checked for the same ``id`` and the same ``content`` object (which
catches a reassigned ``content``); messages carried over unchanged are not: those of
a list this saver handed out, and those an append-only update kept (the chat graph's
reducer, ``chatcli.store.messages.reducer.add_messages``, says which).  So a usual turn
reads the attributes of its new messages only.  With no cache (a fresh process that
did not read through this wrapper) the chain of the parent checkpoint is loaded and
compared by id and equality.  A message changed in place without being handed back in
an update, and in-place mutation of a message's nested structures, are not detected
(LangGraph does not do that; ``add_messages`` builds new lists and only fills in
missing ids).

The message nodes live beside the thread index, in the same database (chatcli.store.index.ThreadIndex: the
saver's ``MessageTable``); ``chatcli.store.sqlite.sqlite_saver`` opens a SQLite file with them.
"""

from __future__ import annotations

from chatcli.store.messages.saver import REF_KEY, MessageStoreSaver

__all__ = ["REF_KEY", "MessageStoreSaver"]
