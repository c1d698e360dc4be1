"""Conversations: the LangGraph app, the chat model, one turn, thread management, and the wiring of a session."""
