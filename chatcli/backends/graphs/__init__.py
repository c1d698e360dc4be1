"""A LangGraph graph of the user's (chat --graph): loading it, reading its messages, its turns and its conversations."""
