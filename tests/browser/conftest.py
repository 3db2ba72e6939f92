"""Builds and starts the production app on a demo database, and drives Debian's Chromium.

The app is started exactly as ``make run`` starts it (``reflex run --env prod``), on its own port,
data folder and front-end build folder, and stopped with its whole process group at the end.

Why a private build folder (``REFLEX_WEB_WORKDIR``, a copy of ``.web``): the production build bakes
its websocket address (``ws://localhost:PORT/_event``) into the bundle, and a running app serves
the bundle from disk. Two ``reflex run`` in one checkout (``make run`` while the tests run, or the
two instances below) would rebuild one shared ``.web`` and send each other's browsers to the wrong
port. The copy keeps node_modules (no download) and is deleted at the end.

Two instances exist:

- ``base_url`` / ``app_engine``: one worker, state in memory (the default deployment);
- ``base_url_redis`` / ``app_engine_redis``: two granian workers sharing a throwaway Redis
  (``scripts/with_redis.sh``), started only when a test asks for it.

A test runs on both with ``@pytest.mark.parametrize("app_variant", APP_VARIANTS, indirect=True)``
and the ``app_variant`` (an ``AppInstance``), ``variant_context`` and ``variant_page`` fixtures.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy.engine import Engine

from cpts_app.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CPTS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PORT = int(os.environ.get("CPTS_TEST_PORT", "3011"))
REDIS_APP_PORT = int(os.environ.get("CPTS_TEST_PORT_REDIS", "3012"))
REDIS_APP_WORKERS = 2
STARTUP_TIMEOUT_S = 420

ONE_WORKER = "un-worker"
TWO_WORKERS_REDIS = "deux-workers-redis"
APP_VARIANTS = [ONE_WORKER, TWO_WORKERS_REDIS]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@dataclass(frozen=True)
class AppInstance:
    """One running instance of the app, as tests need it."""

    name: str
    url: str
    data_dir: Path
    engine: Engine
    pid: int
    """The process group leader (``reflex run``, or ``with_redis.sh`` around it)."""
    workers: int = 1
    redis_url: str | None = None

    def new_context(self, browser: Browser) -> BrowserContext:
        """A fresh browser (own cookies and tabs) on this instance; the caller closes it."""
        return new_context(browser, self.url)


def new_context(browser: Browser, base_url: str) -> BrowserContext:
    ctx = browser.new_context(base_url=base_url, locale="fr-FR", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(30_000)
    return ctx


def _app_env(data_dir: Path, port: int) -> dict[str, str]:
    return os.environ | {
        "CPTS_DATA_DIR": str(data_dir),
        "CPTS_SECRETS_DIR": str(data_dir.parent / "secrets"),
        "CPTS_DEMO": "true",
        # The only origin allowed to open the websocket: the browser's.
        "CPTS_PUBLIC_URL": f"http://localhost:{port}",
        "CPTS_DATABASE_URL": "",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "REFLEX_USE_SYSTEM_BUN": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }


@contextlib.contextmanager
def _running_app(
    data_dir: Path, port: int, *, extra_env: dict[str, str] | None = None, wrapper: list[str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Load the demo into ``data_dir``, start ``reflex run --env prod`` on ``port``, wait for /ping.

    The app gets its own session (process group): teardown stops the group with everything the
    app started (granian workers, and Redis when ``wrapper`` is ``with_redis.sh``).
    """
    env = _app_env(data_dir, port) | (extra_env or {})
    subprocess.run(
        [sys.executable, "-m", "cpts_app.cli", "demo"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    log_path = data_dir / "app.log"
    log = log_path.open("w")
    reflex = str(Path(sys.executable).parent / "reflex")
    command = [reflex, "run", "--env", "prod", "--single-port"]
    command += ["--frontend-port", str(port), "--backend-port", str(port)]
    process = subprocess.Popen(
        [*(wrapper or []), *command],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the app stopped during start-up:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start in time:\n{log_path.read_text()[-4000:]}")
            time.sleep(1)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        # Nothing of the app's process group may outlive the tests.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        log.close()


@contextlib.contextmanager
def _private_web_dir(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Iterator[Path]:
    """A copy of the front-end folder ``source`` (none yet: ``reflex run`` initialises it)."""
    web_dir = tmp_path_factory.mktemp("cpts-web") / "web"
    try:
        if source.is_dir():
            subprocess.run(["cp", "-a", str(source), str(web_dir)], check=True)
        yield web_dir
    finally:
        shutil.rmtree(web_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def app_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cpts-browser-data")


@pytest.fixture(scope="session")
def single_app_web_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with _private_web_dir(tmp_path_factory, ROOT / ".web") as web_dir:
        yield web_dir


@pytest.fixture(scope="session")
def single_app(app_data_dir: Path, single_app_web_dir: Path) -> Iterator[AppInstance]:
    """The app as ``make run`` starts it: one worker, state in memory."""
    extra_env = {"REFLEX_WEB_WORKDIR": str(single_app_web_dir)}
    with _running_app(app_data_dir, PORT, extra_env=extra_env) as process:
        engine = make_engine(f"sqlite:///{app_data_dir / 'cpts.db'}")
        yield AppInstance(ONE_WORKER, f"http://localhost:{PORT}", app_data_dir, engine, process.pid)
        engine.dispose()


@pytest.fixture(scope="session")
def base_url(single_app: AppInstance) -> str:
    return single_app.url


@pytest.fixture(scope="session")
def app_engine(single_app: AppInstance) -> Engine:
    """The running app's database, to check what was (not) saved."""
    return single_app.engine


@pytest.fixture(scope="session")
def redis_app(
    tmp_path_factory: pytest.TempPathFactory, single_app: AppInstance, single_app_web_dir: Path
) -> Iterator[AppInstance]:
    """A second instance: two granian workers sharing a throwaway Redis, own port and database.

    It starts after ``single_app``, from a copy of that instance's built front-end folder (so
    that even a fresh checkout installs the front-end packages once).

    Redis comes from ``scripts/with_redis.sh`` (installs Debian's redis-server if missing, random
    password, 127.0.0.1 only, no persistence), wrapped around ``reflex run``: it dies with the
    app's process group. The wrapped shell saves ``REFLEX_REDIS_URL`` in a 0600 file of the data
    folder so that tests can ask Redis which worker holds a browser's socket.
    """
    data_dir = tmp_path_factory.mktemp("cpts-browser-data-redis")
    url_file = data_dir / "redis-url"
    wrapper = [
        str(ROOT / "scripts" / "with_redis.sh"),
        "sh",
        "-c",
        '(umask 077 && printf %s "$REFLEX_REDIS_URL" > "$0") && exec "$@"',
        str(url_file),
    ]
    try:
        with (
            _private_web_dir(tmp_path_factory, single_app_web_dir) as web_dir,
            _running_app(
                data_dir,
                REDIS_APP_PORT,
                extra_env={"GRANIAN_WORKERS": str(REDIS_APP_WORKERS), "REFLEX_WEB_WORKDIR": str(web_dir)},
                wrapper=wrapper,
            ) as process,
        ):
            engine = make_engine(f"sqlite:///{data_dir / 'cpts.db'}")
            yield AppInstance(
                TWO_WORKERS_REDIS,
                f"http://localhost:{REDIS_APP_PORT}",
                data_dir,
                engine,
                process.pid,
                workers=REDIS_APP_WORKERS,
                redis_url=url_file.read_text(),
            )
            engine.dispose()
    finally:
        url_file.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def base_url_redis(redis_app: AppInstance) -> str:
    return redis_app.url


@pytest.fixture(scope="session")
def app_engine_redis(redis_app: AppInstance) -> Engine:
    """The two-worker instance's database."""
    return redis_app.engine


@pytest.fixture
def app_variant(request: pytest.FixtureRequest) -> AppInstance:
    """The instance named by indirect parametrisation (``APP_VARIANTS``); one worker by default."""
    name = getattr(request, "param", ONE_WORKER)
    if name not in APP_VARIANTS:
        raise ValueError(f"unknown app variant {name!r}: one of {APP_VARIANTS}")
    return request.getfixturevalue("redis_app" if name == TWO_WORKERS_REDIS else "single_app")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    ctx = new_context(browser, base_url)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def context_redis(browser: Browser, base_url_redis: str) -> Iterator[BrowserContext]:
    ctx = new_context(browser, base_url_redis)
    yield ctx
    ctx.close()


@pytest.fixture
def page_redis(context_redis: BrowserContext) -> Page:
    return context_redis.new_page()


@pytest.fixture
def variant_context(browser: Browser, app_variant: AppInstance) -> Iterator[BrowserContext]:
    ctx = app_variant.new_context(browser)
    yield ctx
    ctx.close()


@pytest.fixture
def variant_page(variant_context: BrowserContext) -> Page:
    return variant_context.new_page()


# --- field mode: a médicobus laptop -------------------------------------------------------------

FIELD_APP_PORT = int(os.environ.get("CPTS_TEST_PORT_FIELD", "3013"))
FIELD_PASSPHRASE = "tournée des Costières, portable 1"
SECOND_FIELD_APP_PORT = int(os.environ.get("CPTS_TEST_PORT_FIELD_B", "3014"))
SECOND_FIELD_PASSPHRASE = "tournée des Costières, portable 2"


@dataclass(frozen=True)
class FieldLaptop:
    """The app in field mode (``CPTS_MODE=field``) on a laptop folder enrolled against ``single_app``."""

    url: str
    folder: Path
    passphrase: str
    server: AppInstance
    pid: int

    def new_context(self, browser: Browser) -> BrowserContext:
        return new_context(browser, self.url)


def _enrol_laptop(server: AppInstance, folder: Path, passphrase: str) -> None:
    """What the admin and the laptop do: a one-time code, then ``mobile_sync.field.enrol``."""
    from sqlmodel import Session, select

    from cpts_app.models.access import Role, User
    from cpts_app.models.agenda import Tour
    from cpts_app.services.permissions import Actor
    from cpts_app.services.sync import devices
    from mobile_sync import field
    from mobile_sync.client import SyncClient
    from mobile_sync.envelope import FAST_TEST_KDF

    with Session(server.engine) as session:
        admin = session.exec(select(User).where(User.email == "admin@demo-cpts.fr")).one()
        bus = session.exec(select(User).where(User.email == "medicobus@demo-cpts.fr")).one()
        tour = session.exec(select(Tour)).first()
        actor = Actor(user_id=admin.id, role=Role.ADMIN, display_name=admin.display_name)
        _, code = devices.create_enrolment(
            session,
            actor,
            label="Médicobus – portable de test",
            user_id=bus.id,
            tour_id=tour.id if tour else None,
            lease_days=7,
        )
        session.commit()
    client = SyncClient.connect(server.url)
    try:
        field.enrol(folder, passphrase, server.url, code, client, params=FAST_TEST_KDF)
    finally:
        client.close()


@contextlib.contextmanager
def _field_instance(
    tmp_path_factory: pytest.TempPathFactory,
    server: AppInstance,
    web_source: Path,
    port: int,
    passphrase: str,
) -> Iterator[FieldLaptop]:
    """An instance in field mode (own port, data and build folders) on a laptop folder enrolled
    against ``server`` before it starts."""
    folder = tmp_path_factory.mktemp("cpts-terrain") / "portable"
    _enrol_laptop(server, folder, passphrase)
    data_dir = tmp_path_factory.mktemp("cpts-browser-data-field")
    extra_env = {"CPTS_MODE": "field", "CPTS_TERRAIN_DIR": str(folder)}
    with (
        _private_web_dir(tmp_path_factory, web_source) as web_dir,
        _running_app(data_dir, port, extra_env=extra_env | {"REFLEX_WEB_WORKDIR": str(web_dir)}) as process,
    ):
        yield FieldLaptop(f"http://localhost:{port}", folder, passphrase, server, process.pid)


@pytest.fixture(scope="session")
def field_laptop(
    tmp_path_factory: pytest.TempPathFactory, single_app: AppInstance, single_app_web_dir: Path
) -> Iterator[FieldLaptop]:
    """A third instance, in field mode, enrolled against the one-worker server instance."""
    with _field_instance(
        tmp_path_factory, single_app, single_app_web_dir, FIELD_APP_PORT, FIELD_PASSPHRASE
    ) as laptop:
        yield laptop


@pytest.fixture(scope="session")
def second_field_laptop(
    tmp_path_factory: pytest.TempPathFactory, single_app: AppInstance, single_app_web_dir: Path
) -> Iterator[FieldLaptop]:
    """A second laptop of the same tour, also in field mode (for the two-laptop convergence)."""
    with _field_instance(
        tmp_path_factory, single_app, single_app_web_dir, SECOND_FIELD_APP_PORT, SECOND_FIELD_PASSPHRASE
    ) as laptop:
        yield laptop


@pytest.fixture
def field_page(browser: Browser, field_laptop: FieldLaptop) -> Iterator[Page]:
    ctx = field_laptop.new_context(browser)
    yield ctx.new_page()
    ctx.close()
