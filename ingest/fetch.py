"""URL -> bytes: the only HTTP client in the repo (feeds and article pages).

Plain urllib: timeouts on connect and read, a cap on the body size (read in chunks, so a huge or
endless response is cut off rather than buffered), the declared charset passed on for decoding.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message

USER_AGENT = "marsad-ingest/0.1 (+news event monitor)"
DEFAULT_TIMEOUT_S = 15.0
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A URL could not be fetched; `reason` is a short code for the dead letter."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    """A response body and what the server said about it."""

    url: str  # after redirects
    body: bytes
    content_type: str
    charset: str | None


def fetch(url: str, *, timeout: float = DEFAULT_TIMEOUT_S, max_bytes: int = DEFAULT_MAX_BYTES) -> Fetched:
    """Return the body of an http(s) URL; raise FetchError on any failure."""
    if not url.lower().startswith(("http://", "https://")):
        raise FetchError("unsupported_url", f"{url}: only http and https URLs are fetched")
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            body = _read_capped(response, url, max_bytes)
            info: Message = response.headers
            return Fetched(response.geturl(), body, info.get_content_type(), info.get_content_charset())
    except urllib.error.HTTPError as exc:
        raise FetchError("http_error", f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            raise FetchError("fetch_timeout", f"{url}: no answer within {timeout:g} s") from None
        raise FetchError("fetch_failed", f"{url}: {reason}") from None


def _read_capped(response: http.client.HTTPResponse, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError("too_large", f"{url}: {declared} bytes is more than the {max_bytes} byte limit")
    chunks, size = [], 0
    while chunk := response.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError("too_large", f"{url}: more than the {max_bytes} byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
