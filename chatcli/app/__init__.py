"""The ``chat`` command: parses flags, runs one answer or the prompt, maps failures to exit codes."""
