"""Run chatcli as ``python -m chatcli``."""

import sys

from chatcli.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
