"""An MCP server of mcp 2.x with an MCP App (SEP-1865): `python viewed.py` (made in a test's process:
tests/mcp_servers.in_memory).

``tally`` names its view ``ui://tally/view.html``; ``bump`` is for its App alone (visibility ["app"]), ``peek`` for the
model alone (["model"]). The view declares a CSP with good origins and hostile ones (a keyword, a second directive).
``declared`` says which extensions the client declared."""

from mcp.server.mcpserver import Context, MCPServer

VIEW = "ui://tally/view.html"
MIME = "text/html;profile=mcp-app"
HTML = "<!doctype html><title>tally</title><p id=count>the view</p><script>parent.postMessage({}, '*')</script>"
CSP = {
    "connectDomains": ["https://api.example.com", "'unsafe-eval'", "https://x.test; script-src *"],
    "resourceDomains": ["https://*.cdn.example", "data:", "*"],
}
server = MCPServer("viewed")
count = {"n": 0}


@server.tool(meta={"ui": {"resourceUri": VIEW}}, structured_output=True)
def tally(step: int = 1) -> dict[str, int]:
    """Add to the tally and show it."""
    count["n"] += step
    return {"count": count["n"]}


@server.tool(meta={"ui": {"resourceUri": VIEW, "visibility": ["app"]}})
def bump() -> str:
    """Bump the tally by ten (its App's button)."""
    count["n"] += 10
    return f"bumped to {count['n']}"


@server.tool(meta={"ui": {"visibility": ["model"]}})
def peek() -> str:
    """The tally, for the model alone."""
    return str(count["n"])


@server.tool()
def declared(ctx: Context) -> str:
    """The extensions the client declared."""
    capabilities = ctx.session.client_params.capabilities
    return " ".join(sorted((getattr(capabilities, "extensions", None) or {}).keys()))


@server.resource(VIEW, name="tally view", mime_type=MIME, meta={"ui": {"csp": CSP, "prefersBorder": True}})
def view() -> str:
    return HTML


@server.resource("ui://tally/plain.txt", name="not a view", mime_type="text/plain")
def plain() -> str:
    return "plain text"


if __name__ == "__main__":
    server.run()
