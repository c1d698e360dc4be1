"""The service every door holds: a process's Chat over a backend, its Threads, the one turn loop and its events,
the typed answer, and what answers a thread (its binding)."""
