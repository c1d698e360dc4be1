"""What every part of chat shares about a turn: the one turn loop and its typed events, interrupts and a tool's
questions, the typed answer, what a thread id and a message may be, what answers a thread (its binding)."""
