"""Anthropic's prompt cache: breakpoints on the stable prefix of each request, placed on the wire payload.

A request is tools, then the system prompt, then the messages; a ``cache_control`` breakpoint on a
block writes the prefix up to it to the cache, and a later request that starts with a written
prefix reads it for a tenth of the price (writing costs a quarter more than sending). Each request
gets up to four, as many as the API takes:

- the system prompt's last block: the tools and the prompt, the same for every question of every
  thread with that prompt, even when older turns are left out of the history (a thread's summary
  comes after it, in the first user message: chatcli.backends.own.request_history);
- the last block before the newest question: the earlier turns, the same for every request of
  this question (each tool round is one), read even when the rest is too far past any written
  prefix for the API to find it (a round of many tool calls at once adds two blocks a call);
- the last block of the request: all of it, which the next request (the next tool round, or the
  next question) starts with. The API looks for a written prefix up to 20 blocks back from each
  breakpoint, so the next request finds it a block or two before its own last one.

Thinking blocks take no breakpoint (the API caches them as part of what comes after), nor do
empty texts. A prefix under the model's minimum (1,024 tokens for most) is simply not cached: the
request is the same. Changing the tools offered changes the start of every prefix, so a request
with other tools reads nothing.

The breakpoints are placed on the request chat sends (LangChain's formatted payload), not on the
stored messages, so a thread keeps no trace of them and every gateway that speaks Anthropic's
wire (ANTHROPIC_BASE_URL) gets them in the form the API documents.
"""

from __future__ import annotations

from functools import cache, cached_property, lru_cache
from typing import Any

BREAKPOINT = {"type": "ephemeral"}
_UNMARKABLE = ("thinking", "redacted_thinking")


def with_breakpoints(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` (a Messages API request body) with cache breakpoints on its stable prefix (changed in place)."""
    system = payload.get("system")
    if isinstance(system, str) and system.strip():
        payload["system"] = [{"type": "text", "text": system, "cache_control": BREAKPOINT}]
    elif isinstance(system, list):
        _mark_last(system)
    messages = payload.get("messages") or []
    asked = _newest_question(messages)
    if asked is not None and asked > 0:
        _mark(messages[asked - 1])
    if messages:
        _mark(messages[-1])
    return payload


def _newest_question(messages: list[dict[str, Any]]) -> int | None:
    """The index of the last user message that asks something (not one that only carries tool results)."""
    for index in range(len(messages) - 1, -1, -1):
        said = messages[index].get("content")
        asks = isinstance(said, str) or any(isinstance(b, dict) and b.get("type") != "tool_result" for b in said or [])
        if messages[index].get("role") == "user" and asks:
            return index
    return None


def _mark(message: dict[str, Any]) -> None:
    content = message.get("content")
    if isinstance(content, str):
        if content.strip():
            message["content"] = [{"type": "text", "text": content, "cache_control": BREAKPOINT}]
        return
    if isinstance(content, list):
        _mark_last(content)


def _mark_last(blocks: list[Any]) -> None:
    """A breakpoint on the last block that may take one."""
    for block in reversed(blocks):
        if not isinstance(block, dict) or block.get("type") in _UNMARKABLE:
            continue
        if block.get("type") == "text" and not str(block.get("text") or "").strip():
            continue
        block.setdefault("cache_control", BREAKPOINT)
        return


def takes_temperature(model: Any) -> bool:
    """Whether a request of ``model`` (a ChatAnthropic) may carry a temperature: not while it thinks (the API
    takes none but 1), nor to a model that takes none (LangChain's profile says so: Opus 4.7, Sonnet 5...)."""
    thinking = model.thinking if isinstance(model.thinking, dict) else {}
    return thinking.get("type") not in ("enabled", "adaptive") and (model.profile or {}).get("temperature") is not False


@lru_cache(maxsize=8)
def _shared_http_client(base_url: str | None, timeout: Any, environment: tuple[object, ...]) -> Any:
    """The Anthropic SDK's own async HTTP client for one endpoint, timeout and proxy and certificate environment
    (read when it is made: the key holds them), as langchain-anthropic keeps one per endpoint and timeout."""
    import anthropic

    import chatcli.providers.tls as tls
    from chatcli.providers.bounded import bounded_hooks

    options: dict[str, Any] = {"base_url": base_url or "https://api.anthropic.com", "verify": tls.system()}
    if timeout is not None:
        options["timeout"] = timeout
    return anthropic.DefaultAsyncHttpxClient(event_hooks=bounded_hooks({}), **options)


@cache
def client_class() -> type:
    """ChatAnthropic, sending every request with cache breakpoints, and a temperature only where one is taken."""
    from langchain_anthropic import ChatAnthropic

    class CachingChatAnthropic(ChatAnthropic):
        def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
            if self.temperature is not None and not takes_temperature(self):  # a role's may have been copied in
                return self.model_copy(update={"temperature": None})._get_request_payload(input_, stop=stop, **kwargs)
            return with_breakpoints(super()._get_request_payload(input_, stop=stop, **kwargs))

        @cached_property
        def _async_client(self) -> Any:
            """The SDK's client over an HTTP client shared by every model built alike in this process and
            environment (its proxies, its certificate authorities), each line of an answer bounded
            (chatcli.providers.bounded)."""
            import anthropic

            from chatcli.providers.bounded import environment_key

            params = self._client_params
            http = _shared_http_client(params["base_url"], params.get("timeout"), environment_key())
            return anthropic.AsyncClient(**params, http_client=http)

    return CachingChatAnthropic
