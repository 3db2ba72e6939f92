"""A simulated network link for the sync benchmarks: bytes, round trips and delay of each request.

``SlowLinkTransport`` wraps any sync httpx transport (``httpx.HTTPTransport()`` to a real server,
or the transport of Starlette's ``TestClient``) and, for every request:

- counts one round trip;
- counts the request bytes as HTTP/1.1 text: request line, headers (``Name: value`` lines as the
  client sends them, Host and Content-Length included), blank line, body;
- counts the response bytes the same way: status line, headers, blank line, body as it crosses
  the wire (still compressed if the server compressed it). A chunked answer is counted as if it
  carried a Content-Length instead (chunk framing, a few bytes per chunk, is left out);
- delays the answer by ``rtt + (bytes_up + bytes_down) * 8 / bandwidth`` (``LinkModel.delay``).

Not modelled: TCP and TLS handshakes (connections are assumed kept alive, one handshake per
sync is small next to hundreds of requests), TCP slow start, packet loss, IP/TCP/TLS framing.

Concurrent requests (PouchDB sends some in parallel; see ``benchmarks.couch_proxy``) share one
link: latencies overlap, but transmissions take turns, so two requests answered together finish
``rtt + tx1`` and ``rtt + tx1 + tx2`` after their answers were ready. For one request at a time,
as the sync client sends them, this is exactly ``rtt + tx`` per request.

``simulate=False`` accumulates the same delays in ``simulated_seconds`` without sleeping (fast, for
many runs; add the measured wall time to get the estimate). Sleeping is the honest default: it
also shows whatever the client does while it waits (nothing, for a sequential client).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class LinkModel:
    """A symmetric link: ``bandwidth_bps`` bits per second, ``rtt_s`` seconds of round trip."""

    bandwidth_bps: float = 1_000_000
    rtt_s: float = 0.3

    def __post_init__(self) -> None:
        if self.bandwidth_bps <= 0 or self.rtt_s < 0:
            raise ValueError("bandwidth_bps must be > 0 and rtt_s >= 0")

    def transmission(self, nbytes: int) -> float:
        return nbytes * 8 / self.bandwidth_bps

    def delay(self, bytes_up: int, bytes_down: int) -> float:
        """Seconds one request/response pair spends on the link, alone on it."""
        return self.rtt_s + self.transmission(bytes_up + bytes_down)


LOOPBACK: LinkModel | None = None
"""No link model: count, never delay."""
SLOW = LinkModel(bandwidth_bps=1_000_000, rtt_s=0.3)
"""The médicobus in a village with poor 3G: 1 Mbit/s, 300 ms round trip."""


def _header_lines(pairs: Iterable[tuple[str | bytes, str | bytes]]) -> int:
    total = 0
    for name, value in pairs:
        total += len(name) + 2 + len(value) + 2  # "Name: value\r\n"
    return total


def request_size(
    method: str, target: str, headers: Iterable[tuple[str | bytes, str | bytes]], body_len: int
) -> int:
    """Bytes of an HTTP/1.1 request: ``METHOD target HTTP/1.1``, header lines, blank line, body."""
    return (
        len(method) + 1 + len(target.encode()) + len(" HTTP/1.1\r\n") + _header_lines(headers) + 2 + body_len
    )


def response_size(
    status: int, reason: str, headers: Iterable[tuple[str | bytes, str | bytes]], body_len: int
) -> int:
    """Bytes of an HTTP/1.1 response framed with Content-Length (Transfer-Encoding replaced)."""
    kept = []
    has_length = False
    for name, value in headers:
        lowered = name.lower() if isinstance(name, str) else name.decode("latin-1").lower()
        if lowered == "transfer-encoding":
            continue
        has_length = has_length or lowered == "content-length"
        kept.append((name, value))
    if not has_length:
        kept.append(("Content-Length", str(body_len)))
    status_line = len(f"HTTP/1.1 {status} {reason}\r\n".encode())
    return status_line + _header_lines(kept) + 2 + body_len


class SharedLink:
    """Counters and the delay schedule of one link; thread-safe (the proxy serves in threads)."""

    def __init__(self, model: LinkModel | None, *, simulate: bool = True) -> None:
        self.model = model
        self.simulate = simulate
        self.round_trips = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self.simulated_seconds = 0.0
        self._free_at = 0.0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.round_trips = 0
            self.bytes_up = 0
            self.bytes_down = 0
            self.simulated_seconds = 0.0

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return {
                "round_trips": self.round_trips,
                "bytes_up": self.bytes_up,
                "bytes_down": self.bytes_down,
                "simulated_seconds": self.simulated_seconds,
            }

    def exchange(self, bytes_up: int, bytes_down: int) -> float:
        """Record one request/response; sleep (or only account) its time on the link; return it."""
        with self._lock:
            self.round_trips += 1
            self.bytes_up += bytes_up
            self.bytes_down += bytes_down
            if self.model is None:
                return 0.0
            if not self.simulate:
                wait = self.model.delay(bytes_up, bytes_down)
                self.simulated_seconds += wait
                return wait
            now = time.monotonic()
            start = max(now, self._free_at)
            self._free_at = start + self.model.transmission(bytes_up + bytes_down)
            wait = self._free_at + self.model.rtt_s - now
            self.simulated_seconds += wait
        time.sleep(wait)
        return wait


class SlowLinkTransport(httpx.BaseTransport):
    """An httpx transport that counts and delays each request as ``LinkModel`` says.

    ``model=None`` counts only (loopback). ``simulate=False`` never sleeps and adds the delays to
    ``simulated_seconds`` instead.
    """

    def __init__(
        self, inner: httpx.BaseTransport, model: LinkModel | None = SLOW, *, simulate: bool = True
    ) -> None:
        self._inner = inner
        self.link = SharedLink(model, simulate=simulate)

    @property
    def model(self) -> LinkModel | None:
        return self.link.model

    @property
    def round_trips(self) -> int:
        return self.link.round_trips

    @property
    def bytes_up(self) -> int:
        return self.link.bytes_up

    @property
    def bytes_down(self) -> int:
        return self.link.bytes_down

    @property
    def simulated_seconds(self) -> float:
        return self.link.simulated_seconds

    def reset(self) -> None:
        self.link.reset()

    def snapshot(self) -> dict[str, float]:
        return self.link.snapshot()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        target = request.url.raw_path.decode("ascii")
        up = request_size(request.method, target, request.headers.raw, len(body))
        response = self._inner.handle_request(request)
        try:
            raw = b"".join(response.stream)  # as on the wire: still compressed, not decoded
        finally:
            response.close()
        reason = response.extensions.get("reason_phrase", b"") or b""
        reason_text = (
            reason.decode("latin-1") if reason else httpx.codes.get_reason_phrase(response.status_code)
        )
        down = response_size(response.status_code, reason_text, response.headers.raw, len(raw))
        self.link.exchange(up, down)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(raw),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self._inner.close()
