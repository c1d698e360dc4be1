"""The objects of chat serve's requests and of compaction's answer: ``POST /v1/threads/ID/compact`` and ``chat compact
ID --json`` give the object the command table's /compact makes (chatcli.service.command_runs.compact), described
here for the API's document.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chatcli.core.answer import Usage


class Strict(BaseModel):
    """An object of the API: a misspelt field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class CompactRequest(Strict):
    """What steers a compaction: the focus, as ``chat compact ID --focus TEXT``."""

    focus: str | None = Field(None, description="What the summary must keep above all, in detail.")


class Compaction(Strict):
    """What a compaction did: the object of ``chat compact ID --json`` and of ``POST /v1/threads/ID/compact``."""

    thread_id: str
    turns: int = Field(description="The earlier turns folded into the summary.")
    tokens_before: int = Field(description="Estimated tokens a request of the thread sent before.")
    tokens_after: int = Field(description="Estimated tokens it sends now.")
    focus: str | None = Field(description="The focus it was given (spaces folded), or null.")
    usage: Usage | None = Field(description="The summary request's token counts; null when the server sent none.")
    cost_usd: float | None = Field(description="What the summary request cost, when its model's price is known.")
    summary: str = Field(description="The summary now sent in place of the folded turns.")
    summary_cut: bool = Field(
        description="The summary request's answer ran past the summary's room and was cut there (it ends ' [...]')."
    )
