"""chatcli: a terminal chat client for large language models."""

from chatcli.deferred import defer_unused_packages

__version__ = "0.1.0"

defer_unused_packages()  # before anything imports LangGraph, LangChain or OpenAI
