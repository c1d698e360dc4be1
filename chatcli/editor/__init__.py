"""``chat acp``: the Agent Client Protocol door, for editors (Zed, JetBrains, Neovim, Emacs)."""
