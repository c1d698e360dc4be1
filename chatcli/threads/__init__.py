"""Threads as things: listed, shown, exported and imported, deleted, searched, forked, totalled (no model needed)."""
