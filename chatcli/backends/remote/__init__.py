"""A graph deployed on a LangGraph Agent Server (chat --remote): the connection, what it sends (checked), its threads'
state, runs and conversations."""
