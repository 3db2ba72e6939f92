"""A counting, delaying HTTP reverse proxy on 127.0.0.1, in front of the PouchDB benchmark server.

PouchDB (Node) cannot use our httpx ``SlowLinkTransport``, so its traffic goes through this proxy,
which applies the same rules (``benchmarks.sync_link``):

- one round trip per request; request bytes = request line + headers as received + blank line +
  body; response bytes = status line + headers as sent back + blank line + body as sent (still
  gzip-compressed when the server compressed it). The proxy reads the whole upstream answer and
  sends it with a Content-Length (no chunking), so the count is the HTTP/1.1 text the client got;
- the answer is held back ``rtt + (bytes_up + bytes_down) * 8 / bandwidth`` after the upstream
  answered (``SharedLink.exchange``).

Concurrency: PouchDB sends some requests in parallel (pull: ``_changes`` runs ahead while the
previous batch's ``_bulk_get`` and checkpoint are in flight; several connections). Each request is
served by its own thread and counted once. Their latencies overlap, their transmissions take turns
on the one link (``SharedLink``): a request finishing while another is transmitting waits for it.
So parallelism hides round trips, as it would on a real link, but cannot exceed the bandwidth.

Counters can be split into phases: ``POST /__bench/phase/<name>`` (answered by the proxy itself,
never counted, never delayed) starts a new phase; ``phases()`` returns each phase's counters.
``strip_accept_encoding=True`` drops the client's Accept-Encoding (counted as not sent), so the
server answers uncompressed. Only 127.0.0.1 is ever listened on and forwarded to.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from benchmarks.sync_link import LinkModel, SharedLink, request_size, response_size

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
)
CONTROL_PREFIX = "/__bench/"


class CountingProxy:
    """``with CountingProxy(upstream_port, model) as proxy: ... proxy.url ... proxy.phases()``."""

    def __init__(
        self,
        upstream_port: int,
        model: LinkModel | None,
        *,
        port: int = 0,
        simulate: bool = True,
        strip_accept_encoding: bool = False,
    ) -> None:
        self.upstream_port = upstream_port
        self.strip_accept_encoding = strip_accept_encoding
        self.model = model
        self.simulate = simulate
        self._lock = threading.Lock()
        self._phases: dict[str, SharedLink] = {}
        self._phase = self._new_phase("start")
        self._local = threading.local()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def _new_phase(self, name: str) -> SharedLink:
        link = SharedLink(self.model, simulate=self.simulate)
        if hasattr(self, "_phase"):
            link._free_at = self._phase._free_at  # the link stays busy across a phase change
        self._phases[name] = link
        return link

    def set_phase(self, name: str) -> None:
        with self._lock:
            self._phase = self._new_phase(name)

    def phases(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {name: link.snapshot() for name, link in self._phases.items()}

    def start(self) -> CountingProxy:
        self._thread = threading.Thread(target=self.server.serve_forever, name="couch-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _upstream(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=600)
            self._local.connection = connection
        return connection

    def forward(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple:
        """Send to the upstream (one kept-alive connection per serving thread); retry once if stale."""
        for attempt in (1, 2):
            connection = self._upstream()
            try:
                connection.request(method, target, body=body or None, headers=dict(headers))
                upstream = connection.getresponse()
                payload = upstream.read()
                return upstream.status, upstream.reason, upstream.getheaders(), payload
            except (ConnectionError, http.client.HTTPException):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms Nagle/delayed-ACK stall between writes

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the benchmark prints its own table, one line per request would drown it."""

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            trailer = self.rfile.readline()
                            while trailer not in (b"\r\n", b"\n", b""):  # skip trailer headers
                                trailer = self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _control(self) -> None:
                name = self.path[len(CONTROL_PREFIX) :].removeprefix("phase/")
                proxy.set_phase(name)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _serve(self) -> None:
                body = self._read_body()
                if self.path.startswith(CONTROL_PREFIX):
                    self._control()
                    return
                received = list(self.headers.items())
                if self.headers.get("Transfer-Encoding"):  # counted as if sent with a length
                    received = [(k, v) for k, v in received if k.lower() != "transfer-encoding"]
                    received.append(("Content-Length", str(len(body))))
                if proxy.strip_accept_encoding:  # as if the client never asked for gzip
                    received = [(k, v) for k, v in received if k.lower() != "accept-encoding"]
                up = request_size(self.command, self.path, received, len(body))
                forwarded = [(k, v) for k, v in received if k.lower() not in HOP_BY_HOP]
                status, reason, upstream_headers, payload = proxy.forward(
                    self.command, self.path, forwarded, body
                )
                answer = [(k, v) for k, v in upstream_headers if k.lower() not in HOP_BY_HOP]
                answer = [(k, v) for k, v in answer if k.lower() != "content-length"]
                answer.append(("Content-Length", str(len(payload))))
                answer.append(("Connection", "keep-alive"))
                down = response_size(status, reason, answer, len(payload))
                with proxy._lock:
                    link = proxy._phase
                link.exchange(up, down)
                self.send_response_only(status, reason)
                for name, value in answer:
                    self.send_header(name, value)
                self._headers_buffer.append(b"\r\n")  # end_headers, sent with the body in one write
                if self.command != "HEAD":
                    self._headers_buffer.append(payload)
                self.wfile.write(b"".join(self._headers_buffer))
                self._headers_buffer = []

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_COPY = do_OPTIONS = _serve

        return Handler
