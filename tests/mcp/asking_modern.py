"""An MCP server of the 2026-07-28 revision whose tool asks the user mid-call, written with mcp 2.x's MCPServer:
`python asking_modern.py`. Its question is a resolver (``Resolve``/``Elicit``): at 2026-07-28 the call answers
``InputRequiredResult`` and the client calls again with the answer (older clients get ``elicitation/create``).

With ``ASKING_CALLS`` set, each round of a call adds a line to that file (its tool's name).
"""

import os
from typing import Annotated

from mcp.server.mcpserver import Elicit, ElicitationResult, MCPServer, Resolve
from pydantic import BaseModel, Field

server = MCPServer("asking")


class Booking(BaseModel):
    party: int = Field(title="party size", ge=1, le=12)
    day: str = Field(title="day", json_schema_extra={"format": "date"})
    confirm: bool = Field(title="confirm the booking")


def ask_booking() -> Elicit[Booking]:
    return Elicit("Booking a table: for how many, and when?", Booking)


@server.tool()
def book(city: str, answer: Annotated[ElicitationResult[Booking], Resolve(ask_booking)]) -> str:
    """Book a table in a city (asks the user for the details)."""
    if os.environ.get("ASKING_CALLS"):
        with open(os.environ["ASKING_CALLS"], "a") as handle:
            handle.write("book\n")
    if answer.action == "accept":
        return f"book in {city}: accept {answer.data.model_dump_json()}"
    return f"book in {city}: {answer.action}"


if __name__ == "__main__":
    server.run()
