"""An OpenAI-compatible server's thinking, told apart from its answer as it streams.

Servers send the thinking in one of three ways: ``delta.reasoning_content`` (llama.cpp, vLLM,
DeepSeek), ``delta.reasoning`` (Ollama, OpenRouter, newer vLLM), or as ``<think>...</think>``
at the start of the content (older servers, some chat templates). ``ThinkSplitter`` takes the
content as it arrives, in pieces cut anywhere (a tag may be split across chunks), and hands
back the part that is thinking and the part that is answer.
"""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    """Splits streamed content into (thinking, answer), for ``<think>`` at the start of a reply."""

    def __init__(self) -> None:
        # "start": not decided yet; "think": inside the tag; "after": the blank lines after it; "answer"
        self._state = "start"
        self._held = ""  # text kept back: it may be the start of a tag

    def feed(self, text: str) -> tuple[str, str]:
        """The thinking and the answer in ``text`` (with what was held back before it)."""
        if self._state == "answer":
            return "", text
        if self._state == "after":  # the answer starts at its first non-blank character
            text = text.lstrip()
            if text:
                self._state = "answer"
            return "", text
        held = self._held + text
        self._held = ""
        if self._state == "start":
            stripped = held.lstrip()
            if stripped.startswith(OPEN):
                self._state = "think"
                held = stripped[len(OPEN) :]
            elif OPEN.startswith(stripped):  # "", "<", "<thi": cannot tell yet
                self._held = held
                return "", ""
            else:
                self._state = "answer"
                return "", held
        # inside the thinking: look for its end, holding back what may be the start of it
        end = held.find(CLOSE)
        if end >= 0:
            self._state = "after"
            thought, rest = held[:end], held[end + len(CLOSE) :]
            return thought, self.feed(rest)[1] if rest else ""
        # the longest end of ``held`` that is a beginning of CLOSE
        keep = next((n for n in range(min(len(CLOSE) - 1, len(held)), 0, -1) if CLOSE.startswith(held[-n:])), 0)
        self._held = held[len(held) - keep :] if keep else ""
        return held[: len(held) - keep], ""

    def flush(self) -> tuple[str, str]:
        """At the end of the stream: what was held back (a tag that never completed is text)."""
        held, self._held = self._held, ""
        return (held, "") if self._state == "think" else ("", held)
