"""Many real Reflex browser connections from one asyncio process, for benchmarks of live features.

Why not a browser: 200 Chromium pages do not fit on a benchmark machine, and what costs the server
is the websocket traffic, which this reproduces packet for packet. Why not python-socketio's
client: its asyncio transport needs aiohttp, which this project does not install; Engine.IO 4 /
Socket.IO 5 over one websocket is a few text packets, spoken here over ``wsproto`` (a dependency
of Reflex's own socket server).

What a client does, as ``.web/utils/state.js`` does in the browser:

1. opens ``ws://HOST/_event/?EIO=4&transport=websocket&token=<uuid>`` with the session cookie
   and the page's Origin (the app refuses other origins);
2. joins the Socket.IO namespace ``/_event`` with the hydrate event in the CONNECT packet
   (``auth = {"event": {"name": "<root>.hydrate_and_load", "router_data": {...}}}``); the server
   answers with deltas, runs the page's ``on_load`` handlers and sets ``is_hydrated``;
3. sends the page's ``on_mount`` events, then whatever the benchmark asks; every event is
   ``{"name": "<state full name>.<handler>", "payload": {arg: value}, "router_data": {...}}``;
4. records every ``event`` packet (``{"delta": {state: {var_rx_state_: value}}, "events": [...],
   "final": bool}``) with the ``time.monotonic()`` of its arrival, and sends back the backend
   events the server asks the page to run (as the browser's event queue does).

Usage (a booking in tab 0 seen by tab 1; ``settle`` first: see ``ReflexClients.settle``)::

    tokens = create_sessions(database_url, "coordination@demo-cpts.fr", 2)
    async with ReflexClients("http://localhost:3000", tokens, "/agenda/trouver",
                             on_mount=[FindSlotState.refresh]) as clients:
        await clients.settle(processes=app_processes(3000))
        await clients.send(0, BookingState.open_for, {"slot_id": 12, "summary": "…"})
        await clients.send(0, PatientPickerState.choose, {"patient_id": "7", "label": "…"})
        sent = await clients.send(0, BookingState.confirm, {"form_data": {"motif": "…"}})
        delta = await clients.wait_for(1, lambda d: d.has(AgendaChannel, "version"), 30, after=sent)
        print(delta.at - sent, clients[1].value(AgendaChannel, "version"))
    revoke_sessions(database_url, tokens)

Memory of the app under test: ``app_processes(port)`` (the ``reflex run`` process and its
workers), ``tree_memory(processes)``, ``MemorySampler``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

if TYPE_CHECKING:
    import psutil

ROOT_STATE = "reflex___state____state"
HYDRATE_EVENT = f"{ROOT_STATE}.hydrate_and_load"
IS_HYDRATED = "is_hydrated_rx_state_"
FIELD_MARKER = "_rx_state_"
EVENT_PATH = "/_event"
SESSION_COOKIE = "cpts_session"

Handler = Any
"""An event name (``"<state full name>.<handler>"``) or a Reflex ``EventHandler`` (``State.method``)."""


def event_name(handler: Handler) -> str:
    """The wire name of an event handler, from its name or from ``SomeState.handler``."""
    if isinstance(handler, str):
        return handler
    return f"{handler.state.get_full_name()}.{handler.fn.__name__}"


def state_name(state: Any) -> str:
    """The key of a state in deltas, from its full name or from the state class."""
    return state if isinstance(state, str) else state.get_full_name()


class ReflexClientError(RuntimeError):
    """The server refused the connection or closed it."""


@dataclass(frozen=True)
class Delta:
    """One ``event`` packet from the server, as received."""

    at: float
    """``time.monotonic()`` when its bytes were read from the socket."""
    delta: dict[str, dict[str, Any]]
    events: list[dict[str, Any]]
    final: bool

    def has(self, state: Any, var: str | None = None) -> bool:
        """Whether this packet carries ``state`` (and its ``var``)."""
        values = self.delta.get(state_name(state))
        return values is not None and (var is None or var + FIELD_MARKER in values)

    def get(self, state: Any, var: str, default: Any = None) -> Any:
        return self.delta.get(state_name(state), {}).get(var + FIELD_MARKER, default)


Reaction = Callable[["ReflexClient", Delta], Awaitable[None] | None]


class ReflexClient:
    """One browser tab: a websocket, a client token, the state it was sent, the deltas it got."""

    def __init__(
        self,
        index: int,
        base_url: str,
        path: str,
        *,
        cookie: str | None,
        origin: str | None = None,
        event_path: str = EVENT_PATH,
        on_mount: Sequence[Handler] = (),
        follow_events: bool = True,
        reaction: Reaction | None = None,
    ) -> None:
        self.index = index
        self.base_url = base_url.rstrip("/")
        self.path = path
        self.cookie = cookie
        self.origin = origin or self.base_url
        self.event_path = event_path
        self.on_mount = [event_name(h) for h in on_mount]
        self.follow_events = follow_events
        self.reaction = reaction
        self.token = str(uuid.uuid4())
        self.sid: str | None = None
        self.deltas: list[Delta] = []
        self.state: dict[str, dict[str, Any]] = {}
        self.frontend_events: list[dict[str, Any]] = []
        """Events for the browser itself (``_redirect``, ``_call_script``, toasts…): recorded only."""
        self.started_at: float | None = None
        """``time.monotonic()`` when ``connect`` began; ``hydrated_at - started_at`` is what a user waits."""
        self.connected_at: float | None = None
        self.hydrated_at: float | None = None
        self.closed = False
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._namespace_joined: asyncio.Future[None] | None = None
        self._hydrated = asyncio.Event()
        self._error: BaseException | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- Reading what the server sent ---------------------------------------------------------

    def value(self, state: Any, var: str, default: Any = None) -> Any:
        """The current value of a var, from every delta received so far."""
        return self.state.get(state_name(state), {}).get(var + FIELD_MARKER, default)

    @property
    def router_data(self) -> dict[str, Any]:
        """What the browser puts in every event: the page's path and query."""
        parts = urlsplit(self.path)
        data: dict[str, Any] = {"pathname": parts.path or "/", "asPath": self.path}
        if parts.query:
            data["query"] = dict(parse_qsl(parts.query))
        return data

    # -- Connection -----------------------------------------------------------------------------

    async def connect(self, timeout: float = 30.0) -> None:
        """Open the websocket, join the namespace with the hydrate event, wait for hydration."""
        self.started_at = time.monotonic()
        await asyncio.wait_for(self._connect(), timeout)
        await asyncio.wait_for(self._hydrated.wait(), timeout)
        for name in self.on_mount:
            await self.send(name)

    async def _connect(self) -> None:
        url = urlsplit(self.base_url)
        secure = url.scheme in ("https", "wss")
        port = url.port or (443 if secure else 80)
        host = url.hostname or "localhost"
        context = ssl.create_default_context() if secure else None
        self._reader, self._writer = await asyncio.open_connection(host, port, ssl=context, limit=2**24)
        headers = [(b"origin", self.origin.encode()), (b"user-agent", b"cpts-benchmark (reflex_clients)")]
        if self.cookie:
            headers.append((b"cookie", f"{SESSION_COOKIE}={self.cookie}".encode()))
        target = f"{self.event_path}/?EIO=4&transport=websocket&token={quote(self.token)}"
        self._namespace_joined = asyncio.get_running_loop().create_future()
        self._writer.write(self._ws.send(Request(host=url.netloc, target=target, extra_headers=headers)))
        await self._writer.drain()
        self._read_task = asyncio.create_task(self._read_loop(), name=f"reflex-client-{self.index}")
        await self._namespace_joined
        self.connected_at = time.monotonic()

    async def close(self) -> None:
        """Leave the namespace and close the websocket, as a closing tab does."""
        if self._writer is None or self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            if self._ws.state == ConnectionState.OPEN:
                await self._send_text(f"41{self.event_path},")
                await self._write(self._ws.send(CloseConnection(code=1000)))
        if self._read_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._read_task), 2)
            self._read_task.cancel()
        for task in list(self._background):
            task.cancel()
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    # -- Sending --------------------------------------------------------------------------------

    async def send(self, handler: Handler, payload: dict[str, Any] | None = None) -> float:
        """Send one event; returns the ``time.monotonic()`` just before it was written."""
        self._raise_if_failed()
        event = {"name": event_name(handler), "payload": payload or {}, "router_data": self.router_data}
        sent_at = time.monotonic()
        await self._send_text(f"42{self.event_path}," + json.dumps(["event", event]))
        return sent_at

    async def _send_text(self, text: str) -> None:
        await self._write(self._ws.send(Message(data=text)))

    async def _write(self, data: bytes) -> None:
        if self._writer is None:
            raise ReflexClientError("not connected")
        async with self._write_lock:
            self._writer.write(data)
            await self._writer.drain()

    # -- Waiting --------------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[Delta], bool], timeout: float, *, after: float | None = None
    ) -> Delta:
        """The first delta received at or after ``after`` (default: any) that satisfies ``predicate``."""
        checked = 0

        def find() -> Delta | None:
            nonlocal checked
            for delta in self.deltas[checked:]:
                if (after is None or delta.at >= after) and predicate(delta):
                    return delta
            checked = len(self.deltas)
            return None

        async def wait() -> Delta:
            async with self._changed:
                while True:
                    if (found := find()) is not None:
                        return found
                    self._raise_if_failed()
                    await self._changed.wait()

        return await asyncio.wait_for(wait(), timeout)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise ReflexClientError(f"client {self.index}: {self._error}") from self._error

    # -- Protocol -------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._reader is not None
        parts: list[str] = []
        try:
            while True:
                data = await self._reader.read(1 << 16)
                received_at = time.monotonic()
                self._ws.receive_data(data or None)
                for event in self._ws.events():
                    if isinstance(event, TextMessage):
                        parts.append(event.data)
                        if event.message_finished:
                            await self._on_engine_packet("".join(parts), received_at)
                            parts.clear()
                    elif isinstance(event, Ping):
                        await self._write(self._ws.send(event.response()))
                    elif isinstance(event, (RejectConnection, RejectData)):
                        status = getattr(event, "status_code", "")
                        raise ReflexClientError(f"websocket refused by the server (HTTP {status})")
                    elif isinstance(event, CloseConnection):
                        if self._ws.state == ConnectionState.REMOTE_CLOSING:
                            await self._write(self._ws.send(event.response()))
                        raise ReflexClientError(f"websocket closed by the server ({event.code})")
                    elif isinstance(event, AcceptConnection):
                        pass
                if not data:
                    raise ReflexClientError("connection closed by the server")
        except Exception as error:  # every waiter must learn why, not time out silently
            if not self.closed:
                self._error = error
            if self._namespace_joined is not None and not self._namespace_joined.done():
                self._namespace_joined.set_exception(ReflexClientError(str(error)))
            self._hydrated.set()
            async with self._changed:
                self._changed.notify_all()

    async def _on_engine_packet(self, packet: str, received_at: float) -> None:
        kind, body = packet[:1], packet[1:]
        if kind == "0":  # Engine.IO open: join the namespace with the hydrate event
            auth = {"event": {"name": HYDRATE_EVENT, "payload": {}, "router_data": self.router_data}}
            await self._send_text(f"40{self.event_path}," + json.dumps(auth))
        elif kind == "2":  # ping
            await self._send_text("3")
        elif kind == "4":
            await self._on_socketio_packet(body, received_at)
        elif kind == "1":
            raise ReflexClientError("Engine.IO session closed by the server")

    async def _on_socketio_packet(self, packet: str, received_at: float) -> None:
        kind, rest = packet[:1], packet[1:]
        prefix = f"{self.event_path},"
        if rest.startswith(prefix):
            rest = rest[len(prefix) :]
        if kind == "0":
            self.sid = json.loads(rest).get("sid") if rest else None
            if self._namespace_joined is not None and not self._namespace_joined.done():
                self._namespace_joined.set_result(None)
        elif kind == "4":
            raise ReflexClientError(f"connection refused: {rest}")
        elif kind == "1":
            raise ReflexClientError("disconnected by the server")
        elif kind == "2":
            start = rest.find("[")  # an acknowledgement id may precede the array
            name, *args = json.loads(rest[start:])
            await self._on_event(name, args[0] if args else None, received_at)

    async def _on_event(self, name: str, data: Any, received_at: float) -> None:
        if name == "new_token" and isinstance(data, str):
            self.token = data  # the server saw this token elsewhere and gave this tab a new one
            return
        if name != "event" or not isinstance(data, dict):
            return
        record = Delta(
            at=received_at,
            delta=data.get("delta") or {},
            events=data.get("events") or [],
            final=bool(data.get("final", True)),
        )
        for state, values in record.delta.items():
            self.state.setdefault(state, {}).update(values)
        async with self._changed:
            self.deltas.append(record)
            self._changed.notify_all()
        if self.value(ROOT_STATE, "is_hydrated") is True:
            if self.hydrated_at is None:
                self.hydrated_at = received_at
            self._hydrated.set()
        for event in record.events:
            event_name_ = str(event.get("name", ""))
            if self.follow_events and "." in event_name_ and not event_name_.startswith("_"):
                self._spawn(self.send(event_name_, event.get("payload") or {}))
            else:
                self.frontend_events.append(event)
        if self.reaction is not None:
            outcome = self.reaction(self, record)
            if outcome is not None:
                self._spawn(outcome)

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            await awaitable

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class ReflexClients:
    """``N`` clients on one page, connected together (``concurrency`` at a time) and closed together."""

    def __init__(
        self,
        base_url: str,
        cookies: Sequence[str | None],
        path: str,
        *,
        origin: str | None = None,
        on_mount: Sequence[Handler] = (),
        follow_events: bool = True,
        reaction: Reaction | None = None,
        concurrency: int = 20,
        connect_timeout: float = 60.0,
    ) -> None:
        self.clients = [
            ReflexClient(
                i,
                base_url,
                path,
                cookie=cookie,
                origin=origin,
                on_mount=on_mount,
                follow_events=follow_events,
                reaction=reaction,
            )
            for i, cookie in enumerate(cookies)
        ]
        self.concurrency = concurrency
        self.connect_timeout = connect_timeout
        self.connect_seconds: float | None = None

    def __getitem__(self, index: int) -> ReflexClient:
        return self.clients[index]

    def __len__(self) -> int:
        return len(self.clients)

    async def __aenter__(self) -> ReflexClients:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(client: ReflexClient) -> None:
            async with gate:
                await client.connect(self.connect_timeout)

        started = time.monotonic()
        try:
            await asyncio.gather(*(one(c) for c in self.clients))
        except BaseException:
            await self.close()
            raise
        self.connect_seconds = time.monotonic() - started
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)

    async def settle(
        self,
        quiet: float = 1.0,
        timeout: float = 900.0,
        *,
        processes: Sequence[psutil.Process] = (),
        idle_cpu: float = 10.0,
    ) -> float:
        """Wait until no client received anything for ``quiet`` seconds (and, given the app's
        ``processes``, until they used less than ``idle_cpu`` % of one core over that time);
        returns the wait.

        Why: with ``rx.SharedState`` (Reflex 0.10.1), every event of a linked tab makes the server
        push to every other linked tab, one after the other, so a crowd opening a page keeps the
        server busy long after the last hydration, and part of that work sends nothing.
        Measuring anything during that storm measures the storm.
        """
        started = time.monotonic()
        while True:
            cpu_before = _cpu_seconds(processes)
            await asyncio.sleep(quiet)
            now = time.monotonic()
            last = max((c.deltas[-1].at for c in self.clients if c.deltas), default=started)
            busy = (_cpu_seconds(processes) - cpu_before) / quiet * 100 if processes else 0.0
            if now - last >= quiet and busy < idle_cpu:
                return now - started
            if now - started > timeout:
                raise TimeoutError(f"the app was still busy after {timeout:.0f} s")

    @property
    def received(self) -> int:
        """Deltas received so far by all clients."""
        return sum(len(c.deltas) for c in self.clients)

    async def send(self, index: int, handler: Handler, payload: dict[str, Any] | None = None) -> float:
        """Send an event from client ``index``; returns the monotonic time it left."""
        return await self.clients[index].send(handler, payload)

    async def wait_for(
        self,
        index: int,
        predicate: Callable[[Delta], bool],
        timeout: float,
        *,
        after: float | None = None,
    ) -> Delta:
        return await self.clients[index].wait_for(predicate, timeout, after=after)

    async def wait_all(
        self,
        predicate: Callable[[Delta], bool],
        timeout: float,
        *,
        after: float | None = None,
        indexes: Iterable[int] | None = None,
    ) -> list[Delta | None]:
        """For each client (or ``indexes``), the first matching delta, or None if none came in time."""
        chosen = list(range(len(self.clients))) if indexes is None else list(indexes)

        async def one(i: int) -> Delta | None:
            try:
                return await self.clients[i].wait_for(predicate, timeout, after=after)
            except (TimeoutError, ReflexClientError):
                return None

        return list(await asyncio.gather(*(one(i) for i in chosen)))


# -- Sessions without the sign-in form (no Argon2 per client) ---------------------------------


def create_sessions(database_url: str, email: str, count: int, *, hours: int = 2) -> list[str]:
    """``count`` signed-in sessions of the account ``email``; returns the cookie values.

    Written as ``authentication.sign_in`` writes them (only the SHA-256 is stored), without
    checking the password: 200 Argon2 checks would make preparing the benchmark its slow part.
    """
    from sqlmodel import Session, select

    from cpts_app.db import make_engine
    from cpts_app.models.access import User, UserSession
    from cpts_app.models.types import utcnow

    tokens = [secrets.token_urlsafe(32) for _ in range(count)]
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            user = session.exec(select(User).where(User.email == email)).one()
            now = utcnow()
            for token in tokens:
                session.add(
                    UserSession(
                        token_hash=hashlib.sha256(token.encode()).hexdigest(),
                        user_id=user.id,
                        created_at=now,
                        last_seen_at=now,
                        expires_at=now + timedelta(hours=hours),
                        user_agent="cpts-benchmark",
                    )
                )
            session.commit()
    finally:
        engine.dispose()
    return tokens


def revoke_sessions(database_url: str, tokens: Iterable[str]) -> None:
    """Close the benchmark's sessions (they would otherwise stay valid until they expire)."""
    from sqlmodel import Session, col, select

    from cpts_app.db import make_engine
    from cpts_app.models.access import UserSession
    from cpts_app.models.types import utcnow

    hashes = [hashlib.sha256(t.encode()).hexdigest() for t in tokens]
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            now = utcnow()
            for start in range(0, len(hashes), 500):
                rows = session.exec(
                    select(UserSession).where(col(UserSession.token_hash).in_(hashes[start : start + 500]))
                ).all()
                for row in rows:
                    row.revoked_at = now
            session.commit()
    finally:
        engine.dispose()


# -- Memory of the app under test -------------------------------------------------------------


def app_processes(port: int) -> list[psutil.Process]:
    """The ``reflex run`` process serving ``port`` and all its children (granian workers)."""
    import psutil

    listeners = {
        c.pid
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }
    listeners.discard(None)
    if not listeners:
        raise LookupError(f"no process listens on port {port}")

    def is_app(process: psutil.Process) -> bool:
        with contextlib.suppress(psutil.Error):
            return process.name().startswith(("python", "reflex", "granian")) and any(
                "reflex" in part for part in process.cmdline()
            )
        return False

    top = psutil.Process(min(listeners))
    while (parent := top.parent()) is not None and is_app(parent):
        top = parent
    return [top, *top.children(recursive=True)]


def _cpu_seconds(processes: Sequence[psutil.Process]) -> float:
    """User + system CPU time consumed so far by the live ``processes``."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(Exception):
            times = process.cpu_times()
            total += times.user + times.system
    return total


@dataclass(frozen=True)
class Memory:
    """Memory of a process tree, in bytes. RSS counts pages shared by forked workers once per
    process; USS (pages only that process holds) does not, and is the honest per-worker figure."""

    rss: int
    uss: int | None
    processes: int


def tree_memory(processes: Sequence[psutil.Process], *, uss: bool = False) -> Memory:
    """Sum of RSS (and USS if asked: slower, reads /proc/PID/smaps) over live processes."""
    import psutil

    rss = 0
    unique = 0 if uss else None
    alive = 0
    for process in processes:
        try:
            if uss:
                info = process.memory_full_info()
                rss += info.rss
                unique = (unique or 0) + info.uss
            else:
                rss += process.memory_info().rss
            alive += 1
        except psutil.Error:
            continue
    return Memory(rss=rss, uss=unique, processes=alive)


@dataclass
class MemorySampler:
    """Samples ``tree_memory`` every ``interval`` seconds while in use: ``async with sampler:``."""

    processes: Sequence[psutil.Process]
    interval: float = 0.5
    uss: bool = False
    samples: list[tuple[float, Memory]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MemorySampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.samples.append((time.monotonic(), await self._sample()))

    async def _sample(self) -> Memory:
        return await asyncio.to_thread(tree_memory, self.processes, uss=self.uss)

    async def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), await self._sample()))
            await asyncio.sleep(self.interval)

    @property
    def peak_rss(self) -> int:
        return max((m.rss for _, m in self.samples), default=0)
