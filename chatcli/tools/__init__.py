"""Tools the model may call: MCP servers from mcp.json, chat's built-in shell and files tools, approval rules."""
