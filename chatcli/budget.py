"""How a model's context window is shared between the reply and the history sent with a question."""

from __future__ import annotations

# The reply gets this share of the window unless max_tokens (CHATCLI_MAX_TOKENS) says otherwise,
# and at most half of it.
REPLY_SHARE = 0.25
# Of what the reply leaves, the share the history budget may take. The budget is an estimate
# (about 4 characters a token); a real tokenizer may need less on English prose but up to 1.6
# times as many tokens on code, and a chat template adds a few tokens per message: the rest of
# the window is that margin.
HISTORY_SHARE = 0.6
# A model server on this machine that chat sizes itself (Ollama's num_ctx, the local model's llama.cpp): memory
# is the user's, so the window asked for holds this much history unless CHATCLI_CONTEXT_TOKENS says otherwise.
LOCAL_BUDGET = 6000


def split_window(window: int, max_tokens: int | None) -> tuple[int, int]:
    """The history budget (estimated tokens) and the reply's tokens that fit ``window`` together."""
    reply = min(max_tokens or int(window * REPLY_SHARE), window // 2)
    return max(1, int((window - reply) * HISTORY_SHARE)), reply
