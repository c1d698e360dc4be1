"""The warm worker: a process that keeps chat imported and answers one-shots in forked children, its client, its
settings and the terminal's job control through it."""
