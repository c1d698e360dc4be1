"""One TLS set-up per process for each trust store chat's HTTP clients use.

Each HTTP client a library makes loads its certificate authorities anew (some 16 ms): a one-shot that asks a local
server its window, then for the answer, paid that two or three times, and so did every request of the warm worker
and of ``chat serve``. Every client chat makes is handed the context it would have made for itself, made once per
process and per ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` / ``SSLKEYLOGFILE`` and the state of the authorities' file
(read each time: a run through the worker trusts what its caller's environment names, and an authority removed
from the system's store is no longer trusted by a process that made a context before). Two stores, as the
libraries have them: the OpenAI and Anthropic SDKs' HTTP library (httpx2) trusts the system's certificates, httpx
(Ollama's and Google's clients, a fetched page) certifi's bundle.
"""

from __future__ import annotations

import importlib
import os
import ssl
from functools import lru_cache


def system() -> ssl.SSLContext:
    """What the OpenAI and Anthropic SDKs trust by default: the system's certificates (or SSL_CERT_FILE/_DIR)."""
    return _context("httpx2", *_named(), _stamp(_system_store()))


def certifi() -> ssl.SSLContext:
    """What httpx trusts by default: certifi's bundle (or SSL_CERT_FILE/_DIR)."""
    return _context("httpx", *_named(), _stamp(_certifi_store()))


def key() -> tuple[object, ...]:
    """What a context made now depends on: the variables it reads and the state of the files it loads. A client kept
    for reuse (chatcli.providers.bounded.environment_key) is kept per value of this, as the contexts are."""
    return (*_named(), _stamp(_system_store()), _stamp(_certifi_store()))


def _named() -> tuple[str | None, str | None, str | None]:
    """The variables a context reads as it is made: the authorities named, and where TLS secrets are logged."""
    get = os.environ.get
    return get("SSL_CERT_FILE") or None, get("SSL_CERT_DIR") or None, get("SSLKEYLOGFILE") or None


def _system_store() -> str:
    named = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
    paths = ssl.get_default_verify_paths()
    return named or paths.openssl_cafile or paths.openssl_capath or ""


def _certifi_store() -> str:
    named = os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR")
    if named:
        return named
    import certifi as bundle

    return str(bundle.where())


def _stamp(path: str) -> tuple[int, int] | None:
    """When the file (or directory) of authorities last changed, and its size: a store rewritten (an authority
    removed by update-ca-certificates) is loaded again, even by a process that made a context before."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return found.st_mtime_ns, found.st_size


@lru_cache(maxsize=8)
def _context(library: str, *key: object) -> ssl.SSLContext:
    """``library``'s (httpx's or httpx2's) context, once per ``key``: each reads the variables itself."""
    made: ssl.SSLContext = importlib.import_module(library).create_ssl_context()
    return made
