"""An MCP server over stdio that pages its lists as told, written by hand (plain JSON-RPC lines, no SDK: nothing of
a page is built but what is sent): `python pages.py LIST KIND`.

LIST (``tools``, ``prompts``, ``resources`` or ``all``) is the list that pages as KIND says; the others are one small
page. With ``PAGES_FROM=N``, LIST is one small page until it is asked for the Nth time (a server listed again).

- ``fine:N``: every list comes in N pages of two items each, then ends (a server that pages as it should);
- ``huge``: without end, one item a page with a 9 MB description (``PAGES_MB`` sets the size);
- ``wide``: without end, 100 items a page, each with a 60,000-character description (6 MB a page);
- ``many``: without end, 50 small items a page;
- ``slow``: without end, pages of no item, each answered ``PAGES_DELAY`` seconds after it is asked for (0.2);
- ``empty``: without end, pages of no item, at once;
- ``cursor``: without end, pages of no item whose cursor is 4 MB long.

Each list request is a line in the file ``PAGES_LOG`` names ("tools/list 3": the third page asked for), written
before the page is built, so a test reads how far a client went.
"""

import os
import time

from lines import argv, serve  # this folder is its sys.path[0]

WHICH, KIND = argv()[:2]
LOG = os.environ.get("PAGES_LOG")
MEGABYTES = float(os.environ.get("PAGES_MB", "9"))
DELAY = float(os.environ.get("PAGES_DELAY", "0.2"))
FROM = int(os.environ.get("PAGES_FROM", "1"))
LAST = int(
    os.environ.get("PAGES_LAST", "0")
)  # the endless kinds end at this page (a measure of chat before its bounds)


def item(what: str, name: str, description: str) -> dict:
    if what == "tools":
        return {"name": name, "description": description, "inputSchema": {"type": "object", "properties": {}}}
    if what == "prompts":
        return {"name": name, "description": description, "arguments": []}
    return {"uri": f"pages://{name}", "name": name, "description": description, "mimeType": "text/plain"}


def page(what: str, number: int) -> dict:
    """The ``number``th page (from 1) of the list ``what``."""
    kind = KIND if WHICH in (what, "all") and number >= FROM else "fine:1"
    if kind.startswith("fine:"):
        last = int(kind.split(":")[1])
        items = [item(what, f"{what[:-1]}_{number}_{i}", f"Item {i} of page {number}.") for i in range(2)]
        return {what: items, **({"nextCursor": str(number)} if number % last else {})}
    if kind == "huge":
        items = [item(what, f"big_{number}", "x" * int(MEGABYTES * 1024 * 1024))]
    elif kind == "wide":
        items = [item(what, f"wide_{number}_{i}", "y" * 60_000) for i in range(100)]
    elif kind == "many":
        items = [item(what, f"many_{number}_{i}", "small") for i in range(50)]
    else:
        if kind == "slow":
            time.sleep(DELAY)
        items = []
    cursor = "c" * (4 * 1024 * 1024) if kind == "cursor" else str(number)
    return {what: items, **({"nextCursor": cursor} if number != LAST else {})}


asked: dict[str, int] = {}  # pages asked for, by list


def answer(request: dict) -> dict:
    method = request.get("method")
    if method == "initialize":
        capabilities = {"tools": {}, "prompts": {}, "resources": {}}
        return {
            "protocolVersion": "2025-06-18",
            "capabilities": capabilities,
            "serverInfo": {"name": "pages", "version": "1"},
        }
    if method in ("tools/list", "prompts/list", "resources/list"):
        what = method.split("/")[0]
        asked[what] = asked.get(what, 0) + 1
        if LOG:
            with open(LOG, "a") as log:
                log.write(f"{method} {asked[what]}\n")
        return page(what, asked[what])
    if method == "ping":
        return {}
    raise LookupError(method)  # server/discover among them: a server of the 2025 era


serve(answer)
