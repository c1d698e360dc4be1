"""What an answer cost in US dollars: the prices in config.toml first, then genai-prices' kept table.

genai-prices (pydantic's package: the providers' prices, updated with each release) is imported at
the first price, never at start-up: its table takes about 0.1 s to load, so the model step starts
loading it in the background while the request is out. It is used offline, as installed: its
``UpdatePrices`` (which would fetch newer prices over the network) is never started.

A model is matched by the name the server reported, then by the name chat asked for: exactly in
config.toml's ``[prices."NAME"]`` (letter case aside, or without a ``provider/`` prefix), and by
genai-prices' own rules in its table (``gpt-4o-2024-08-06`` is gpt-4o; ``openai/gpt-4o`` is
tried as gpt-4o at the provider openai); an OpenRouter variant (``openai/o1-pro:nitro``) as its model too.
A model neither knows has no price: None, never a guess.

A hosted model is priced by its name wherever its endpoint stands: behind a team's gateway on the private network
(``http://llmgateway:4000/v1``), ``gpt-5-mini`` costs what OpenAI charges. Only a model known to be local is never
priced from the table, which holds what hosted providers charge: the local model, a provider's whose models run on
the user's machine (Ollama), and a model named as local models are (``local_name``: a GGUF file, an Ollama tag, a
quantisation). Its price is unknown, said as "local", unless config.toml prices it (0 included). A model the table
does not know on an endpoint on this machine or a private network (``on_this_network``) is unknown too, said as
local.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, TypeVar

from chatcli.core.chunks import cache_counts
from chatcli.provider_table import DEFAULT, name_of
from chatcli.providers import provider

# On a stored answer's response_metadata: what its model call (and the summaries made for it) cost
# in dollars, or None when the price is unknown.
COST_KEY = "chatcli_cost_usd"
# Beside it, LOCAL when the price is unknown because the model is local (not looked up in the table).
UNPRICED_KEY = "chatcli_unpriced"
LOCAL = "local"
PER = 1_000_000  # config.toml's prices are per million tokens
Price = tuple[str, float, float, float]  # config.toml's [prices."NAME"]: the name, input, output and cached prices

_loading = threading.Lock()


@dataclass(frozen=True)
class Priced:
    """What one model call cost, from the model step to the turn: ``usd`` None when its price is unknown."""

    usd: float | None
    model: str | None
    local: bool = False  # unknown because the model is local (``Pricer.local``)


def token_counts(usage: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """Input tokens (those read from and written to the prompt cache included, as LangChain counts them),
    those read from the cache, those written to it (together no more than the input), and output tokens."""
    tokens_in = max(0, int(usage.get("input_tokens") or 0))
    read, written = cache_counts(usage)
    read = min(tokens_in, read)
    return tokens_in, read, min(tokens_in - read, written), max(0, int(usage.get("output_tokens") or 0))


def _table() -> Any:
    """genai-prices' ``calc_price`` and ``Usage``, its bundled table loaded (once, whoever asks first)."""
    with _loading:
        from genai_prices import Usage, calc_price
        from genai_prices.data_snapshot import get_snapshot

        get_snapshot()  # the bundled table (importing genai_prices.data): the slow part
    return calc_price, Usage


def table_names(name: str) -> list[tuple[str, dict[str, str]]]:
    """How the table is asked for the model ``name`` (as the user names it), in order: (its name there, and the
    provider to look in, if any)."""
    chosen = name_of(name)
    if chosen != DEFAULT:  # "anthropic:claude-...": that provider's entry for the name
        prices = provider(chosen).prices
        return [(name.partition(":")[2], {"provider_id": prices})] if prices else []
    provider_id, _, model = name.rpartition("/")
    tries: list[tuple[str, dict[str, str]]] = [(name, {})]
    if provider_id and model:  # "openai/gpt-4o", as OpenRouter and LiteLLM name models
        tries.append((model, {"provider_id": provider_id}))
    return tries


def kept_window(name: str) -> int | None:
    """The context window the kept table gives the model ``name`` (as the user names it), or None."""
    if preload() is None:
        return None
    from genai_prices.data_snapshot import get_snapshot

    find = get_snapshot().find_provider_model
    model = _looked_up(name, lambda ref, options: find(ref, None, options.get("provider_id"), None)[1])
    window = getattr(model, "context_window", None)
    return window if isinstance(window, int) and window > 0 else None


Found = TypeVar("Found")


def _looked_up(name: str, find: Callable[[str, dict[str, str]], Found]) -> Found | None:
    """What ``find`` answers for the first of ``table_names(name)`` the table knows; None: none, or the table failed."""
    for ref, options in table_names(name):
        try:
            return find(ref, options)
        except LookupError:
            continue
        except Exception:  # noqa: BLE001 - a price or window the table cannot say is unknown, never a failed turn
            return None
    return None


def table_stamp() -> str:
    """Which kept table is installed (its data file's size and time), found without importing it."""
    import importlib.util
    import os

    spec = importlib.util.find_spec("genai_prices")
    if spec is None or spec.origin is None:
        return ""
    try:
        info = os.stat(os.path.join(os.path.dirname(spec.origin), "data.py"))
    except OSError:
        return ""
    return f"{info.st_size}:{info.st_mtime_ns}"


def preload() -> Any:
    """``_table()``, or None when genai-prices cannot be loaded (every kept price is then unknown); the warm worker
    loads it so before it forks: its one-shots then find it loaded."""
    with contextlib.suppress(Exception):  # a broken install costs the dollars, never the answer
        return _table()
    return None


# Names that only a machine or a private network resolves (RFC 6761, 6762, 8375, and common practice).
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain")
# 100.64.0.0/10: carrier-grade NAT and overlay networks (Tailscale), not reachable from the internet.
_SHARED = ipaddress.ip_network("100.64.0.0/10")
# An Ollama tag is any ``name:tag`` (``:latest``, ``:7b``, ``:8x7b``, ``:7b-instruct-q4_K_M``) but the
# tags hosted providers give: OpenRouter's variants, Bedrock's versions (``-v1:0``), Replicate's hashes
# and OpenAI's fine-tunes (``ft:BASE:ORG:SUFFIX:ID``). The quantisations of GGUF files (``-q4``,
# ``-q4_k_m``, ``Q8_0``, ``iq2_xxs``, ``-gguf``, ``.gguf``) are local too.
_HOSTED_TAGS = re.compile(r"free|beta|extended|thinking|online|nitro|floor|exacto|\d+|[0-9a-f]{32,}")
# OpenRouter's variants of a model (``openai/o1-pro:nitro``: its fastest providers) cost as the model does.
_VARIANT = re.compile(r"(/[^:]+):(?:nitro|online|exacto|floor|thinking|extended)$")
_QUANTISED = re.compile(r"(^|[-_.:])(i?q[1-8](_[0-9a-z]{1,3})*|gguf)($|[-_.:])")


def on_this_network(url: str | None) -> bool:
    """Whether the endpoint ``url`` is on this machine or a private network, by its host's shape alone.

    Loopback, private, link-local, shared (100.64/10) and unspecified addresses, IPv4 in any form
    a resolver takes (``127.1``, ``0x7f.1``); localhost, a ``.local``, ``.internal``, ``.lan`` or
    ``.home.arpa`` name, or a name of one label (``myserver``). Nothing is resolved: a name's shape decides.
    """
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url or "").hostname or "").partition("%")[0].rstrip(".").lower()
    except ValueError:
        return False
    if not host:
        return False
    address = _address(host)
    if address is None:
        return host == "localhost" or host.endswith(_PRIVATE_SUFFIXES) or "." not in host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    site = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    flags = (address.is_loopback, address.is_private, address.is_link_local, address.is_unspecified, site)
    return any(flags) or address in _SHARED


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an IP address, the shorthand IPv4 forms (``127.1``, ``2130706433``, ``0177.0.0.1``) included."""
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host)
    if re.fullmatch(r"[0-9a-fx.]+", host) and host[0].isdigit():
        with contextlib.suppress(OSError):
            return ipaddress.IPv4Address(socket.inet_aton(host))
    return None


def local_name(name: str) -> bool:
    """Whether ``name`` names a local model: a GGUF file, an Ollama tag (``deepseek-r1:7b``), a quantisation."""
    model = name.strip().lower()
    if model.startswith("ft:"):
        return False
    base, colon, tag = model.rpartition("/")[2].partition(":")
    return bool(base and colon and not _HOSTED_TAGS.fullmatch(tag)) or bool(_QUANTISED.search(model))


def how_priced(pricer: Pricer, model: str) -> str:
    """How ``model``'s calls are priced, and why, in a line (``chat config``)."""
    if pricer.own_price(model) is not None:
        return "by config.toml's [prices]"
    if pricer.known_local(model):
        return "not counted: a local model (the local model, Ollama's, or a local model's name); [prices] may price it"
    if pricer.cost({"input_tokens": PER, "output_tokens": 0}, model) is not None:
        return "by the kept price table: a hosted model's price, wherever its endpoint stands"
    where = "at an endpoint on this machine or a private network, " if pricer.local(model) else ""
    return f"unknown ({where}not in the kept price table): not counted; [prices] may price it"


def dollars(usd: float) -> str:
    """An amount as the usage line shows it: "$0.0012", "$1.25", "$0.000035"."""
    if usd >= 1:
        return f"${usd:,.2f}"
    if usd >= 0.0001 or usd == 0:
        return f"${usd:.4f}"
    return f"${usd:.8f}".rstrip("0")


def answer_cost(meta: Mapping[str, Any], usage: Mapping[str, Any] | None, pricer: Pricer | None) -> tuple[Any, bool]:
    """A stored answer's dollars (None: unknown) and whether they are unknown because its model is local: the cost
    kept with it (chat's own answers keep theirs, ``COST_KEY``), else its counts priced now by the model it
    names (a graph's answer, which the graph keeps without one); nothing for an answer without counts."""
    if COST_KEY in meta or pricer is None or not usage:
        return meta.get(COST_KEY), meta.get(UNPRICED_KEY) == LOCAL
    priced = pricer.priced(usage, meta.get("model_name"))
    return priced.usd, priced.local


class Pricer:
    """Prices model calls: ``prices`` are config.toml's (Settings.prices), tried before the kept table.

    ``endpoint`` is the base URL the calls go to, and ``local`` says they go to the local model: a model known to be
    local (``known_local``) is priced by config.toml alone; one on this machine or a private network that the table
    does not know is unknown, said as local.
    """

    def __init__(
        self, prices: Iterable[Price] = (), endpoint: str | None = None, local: bool = False, settings: Any = None
    ):
        self.own = {name.lower(): (inp, out, cached) for name, inp, out, cached in prices}
        self.local_model = local
        self.local_endpoint = local or on_this_network(endpoint)
        self.settings = settings  # chatcli.config.Settings: where each provider's models run
        self._warming: threading.Thread | None = None

    def local(self, *names: str | None) -> bool:
        """Whether calls to these models run locally, by the model or its endpoint: a price unknown for them is said
        as local (``known_local`` says which skip the kept table).

        A model named with its provider (``ollama:qwen3``, ``anthropic:claude-...``) is judged by its
        provider alone: Ollama's run on the user's machine, the others' where their endpoint is.
        """
        for name in names:
            if name and (chosen := name_of(name)) != DEFAULT:
                found, settings = provider(chosen), self.settings
                return not found.prices or (settings is not None and on_this_network(found.endpoint(settings)))
        return self.local_endpoint or any(local_name(name) for name in names if name)

    def known_local(self, *names: str | None) -> bool:
        """Whether these models are known to run locally, wherever their endpoint stands: the local model, a
        provider's without hosted prices (Ollama), a local model's name. Only these skip the kept table."""
        for name in names:
            if name and (chosen := name_of(name)) != DEFAULT:
                return not provider(chosen).prices
        return self.local_model or any(local_name(name) for name in names if name)

    def own_price(self, name: str) -> tuple[float, float, float] | None:
        """config.toml's price for ``name`` (letter case, and a ``provider/`` prefix, aside), or None."""
        return self.own.get(name.lower()) or self.own.get(name.rpartition("/")[2].lower())

    def warm(self, asked: str | None = None) -> None:
        """Start loading the kept table in the background (once), so the first price does not wait for it;
        not for a model config.toml prices (should the server name it otherwise, the table loads then)."""
        if "genai_prices.data" in sys.modules:
            return  # loaded already (the warm worker's one-shots)
        if self._warming is None and not (asked and self.own_price(asked)) and not self.known_local(asked):
            self._warming = threading.Thread(target=preload, name="chatcli-prices", daemon=True)
            self._warming.start()

    def cost(self, usage: Mapping[str, Any] | None, *names: str | None) -> float | None:
        """Dollars for ``usage`` (a model call's usage_metadata) by the first of ``names`` with a price; None if none
        has one."""
        if not usage:
            return None
        counts = token_counts(usage)
        tried = list(dict.fromkeys(n for name in names if name for n in (name, _VARIANT.sub(r"\1", name))))
        for name in tried:
            own = self.own_price(name)
            if own is not None:  # (writes to the prompt cache at the input price: config.toml has no price for them)
                (inp, cached, _written, out), (p_in, p_out, p_cached) = counts, own
                return round(((inp - cached) * p_in + cached * p_cached + out * p_out) / PER, 10)
        if self.known_local(*tried):
            return None  # the hosted providers' prices say nothing of what a local model costs
        return next((found for name in tried if (found := self._kept(name, counts)) is not None), None)

    def _kept(self, name: str, counts: tuple[int, int, int, int]) -> float | None:
        table = preload()
        if table is None:
            return None
        calc_price, Usage = table
        inp, cached, written, out = counts
        usage = Usage(input_tokens=inp, cache_read_tokens=cached, cache_write_tokens=written, output_tokens=out)
        return _looked_up(name, lambda ref, options: round(float(calc_price(usage, ref, **options).total_price), 10))

    def priced(self, usage: Mapping[str, Any] | None, *names: str | None) -> Priced:
        """``cost`` of ``usage`` as a ``Priced``: named by the first of ``names`` given, local when unknown because
        these models are local."""
        usd = self.cost(usage, *names)
        return Priced(usd, next((name for name in names if name), None), usd is None and self.local(*names))

    def cost_of(self, usages: Iterable[Mapping[str, Any] | None], *names: str | None) -> float | None:
        """The sum over several calls' usage (None ones skipped); None if any counted call has no price."""
        total = 0.0
        for usage in filter(None, usages):
            usd = self.cost(usage, *names)
            if usd is None:
                return None
            total += usd
        return round(total, 10)
