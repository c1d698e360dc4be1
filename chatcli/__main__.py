"""Run chatcli as ``python -m chatcli``."""

from chatcli.app.cli import main

if __name__ == "__main__":
    main()
