"""The local model: when chat uses it (``policy``) and its llama.cpp server process (``server``); and what chat's own
processes share: a daemon's start and socket (``daemon``, ``sockets``), the warm worker's settings
(``worker_settings``), loopback's owner check (``loopback``), a process's start-up (``startup``)."""
