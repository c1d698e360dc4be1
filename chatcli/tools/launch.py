"""Start a command with exactly the environment chat chose for it: ``python -I -S launch.py FILE``.

``FILE`` (private to the user, removed at once) holds the command line and its environment as JSON. A door that
has another program start chat's commands (an editor's terminal, which starts them with its own environment and
shows them on its own command line) starts this instead: the command gets no variable of that program's, and no
value of its environment is on a command line another local user can read. Only the standard library: it runs
without chat's packages, fast.
"""

import json
import os
import sys


def main() -> None:
    path = sys.argv[1]
    with open(path, encoding="utf-8") as handle:
        spec = json.load(handle)
    os.unlink(path)
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])


if __name__ == "__main__":
    main()
