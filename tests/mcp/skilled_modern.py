"""An MCP server of mcp 2.x (the 2026-07-28 revision, discovered) that serves one skill through MCP's skills extension
(SEP-2640), declared as the SDK declares an extension: `python skilled_modern.py` (made in a test's process:
tests/mcp_servers.in_memory)."""

import hashlib

from mcp.server.extension import Extension, MethodBinding
from mcp.server.mcpserver import MCPServer
from mcp.types import PaginatedRequestParams

URI = "skill://git-workflow/SKILL.md"
GIT = "---\nname: git-workflow\ndescription: Follow this team's Git conventions.\n---\nBranch from main.\n"
ENTRY = {
    "uri": URI,
    "frontmatter": {"name": "git-workflow", "description": "Follow this team's Git conventions."},
    "resources": [{"uri": URI, "digest": "sha256:" + hashlib.sha256(GIT.encode()).hexdigest(), "size": len(GIT)}],
}


async def listed(_context: object, _params: PaginatedRequestParams) -> dict:
    return {"skills": [ENTRY]}


class Skills(Extension):
    identifier = "io.modelcontextprotocol/skills"

    def methods(self) -> list[MethodBinding]:
        return [MethodBinding(method="skills/list", params_type=PaginatedRequestParams, handler=listed)]


server = MCPServer("docs", extensions=[Skills()])


@server.tool()
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.resource(URI, name="git-workflow", mime_type="text/markdown")
def skill() -> str:
    return GIT


if __name__ == "__main__":
    server.run()
