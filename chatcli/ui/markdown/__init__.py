"""Markdown in the terminal: a reply streamed as it arrives, or a whole text at once.

``stream.py`` drives the screen (each finished line printed once, only the last one
redrawn); ``blocks.py`` draws each source line's reading (chatcli.content.markdown) as
rows; ``style.py`` turns rich styles into escape codes and wraps words; ``code.py``
colours code blocks.
"""
