"""The local model: when chat uses it (``policy``) and its llama.cpp server process (``server``)."""
