"""MCP servers' tools: each server's configuration, its process or connection, its cached listing, its calls, and the
host that keeps servers between runs."""
