"""What the user sees and types: the prompt, slash commands, the outputs (rich, plain, JSON), Markdown."""
