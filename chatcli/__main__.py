"""Run chatcli as ``python -m chatcli``."""

from chatcli.cli import main

if __name__ == "__main__":
    main()
