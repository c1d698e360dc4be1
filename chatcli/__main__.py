"""Run chatcli as ``python -m chatcli``: a background reply is started so (chatcli.service.jobs), its arguments in
the private file ``CHATCLI_JOB_ARGS`` names, never on its command line, which any local user may read."""

import json
import os
import sys

from chatcli.app.launch import main

if __name__ == "__main__":
    if given := os.environ.pop("CHATCLI_JOB_ARGS", None):
        with open(given, encoding="utf-8") as handle:
            sys.argv[1:] = json.load(handle)
        os.unlink(given)
    main()
