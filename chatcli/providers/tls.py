"""One TLS set-up per process for each trust store chat's HTTP clients use.

Each HTTP client a library makes loads its certificate authorities anew (some 16 ms): a one-shot that asks a local
server its window, then for the answer, paid that two or three times, and so did every request of the warm worker
and of ``chat serve``. Every client chat makes is handed the context it would have made for itself, made once per
process and per ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (read each time, so a run through the worker trusts what its
caller's environment names). Two stores, as the libraries have them: the OpenAI and Anthropic SDKs' HTTP library
(httpx2) trusts the system's certificates, httpx (Ollama's and Google's clients, a fetched page) certifi's bundle.
"""

from __future__ import annotations

import os
import ssl
from functools import lru_cache


def system() -> ssl.SSLContext:
    """What the OpenAI and Anthropic SDKs trust by default: the system's certificates (or SSL_CERT_FILE/_DIR)."""
    return _system(*_named())


def certifi() -> ssl.SSLContext:
    """What httpx trusts by default: certifi's bundle (or SSL_CERT_FILE/_DIR)."""
    return _certifi(*_named())


def _named() -> tuple[str | None, str | None]:
    return os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None


@lru_cache(maxsize=4)
def _system(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    import httpx2

    return httpx2.create_ssl_context()  # (it reads the two variables itself: the key they are part of)


@lru_cache(maxsize=4)
def _certifi(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    import httpx

    return httpx.create_ssl_context()
