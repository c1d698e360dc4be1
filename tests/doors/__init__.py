"""The doors in this process: each door of tests/matrix.py run without a process of its own, so a cell of the
matrix costs milliseconds rather than the seconds a ``chat`` process takes to start.

Each is entered the way a user enters it, through chat's command line in this process (``chatcli.app.cli.main``
with an ``Environment`` of the test's own, as tests/helpers.py's ``chat`` runs a one-shot); only what a process
would hand to the operating system is handed to the test instead:

- ``acp``: ``chat acp ARGS`` on a thread of this process, its stdin and stdout a pair of pipes, the ACP SDK's client
  connection on the other end (tests/doors/acp.py);
- ``serve``: ``chat serve ARGS`` builds its app, which is asked through an ASGI client instead of a socket
  (tests/doors/serve.py);
- ``prompt``: ``chat ARGS`` on a thread of this process, its stdin and stdout a terminal's, its keys typed through
  prompt-toolkit's pipe input (tests/doors/prompt.py).

What needs a real process stays one (tests/matrix.py keeps a process cell per door): signals, a terminal, the
worker's fork, an agent or server that must survive its client or be killed.
"""
