"""Run chatcli as ``python -m chatcli``."""

from chatcli.app.launch import main

if __name__ == "__main__":
    main()
