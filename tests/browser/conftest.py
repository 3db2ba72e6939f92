"""Builds and starts the production app on a demo database, and drives Debian's Chromium.

The app is started exactly as ``make run`` starts it (``reflex run --env prod``), on its own port
and data folder, and stopped with its whole process group at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
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
STARTUP_TIMEOUT_S = 420


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def app_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cpts-browser-data")


@pytest.fixture(scope="session")
def base_url(app_data_dir: Path) -> Iterator[str]:
    env = os.environ | {
        "CPTS_DATA_DIR": str(app_data_dir),
        "CPTS_SECRETS_DIR": str(app_data_dir.parent / "secrets"),
        "CPTS_DEMO": "true",
        "CPTS_PUBLIC_URL": f"http://localhost:{PORT}",
        "CPTS_DATABASE_URL": "",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "REFLEX_USE_SYSTEM_BUN": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    subprocess.run(
        [sys.executable, "-m", "cpts_app.cli", "demo"], env=env, cwd=ROOT, check=True, capture_output=True
    )
    log_path = app_data_dir / "app.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "reflex"),
            "run",
            "--env",
            "prod",
            "--single-port",
            "--frontend-port",
            str(PORT),
            "--backend-port",
            str(PORT),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{PORT}"
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
        yield url
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


@pytest.fixture(scope="session")
def app_engine(app_data_dir: Path, base_url: str) -> Iterator[Engine]:
    """The running app's database, to check what was (not) saved."""
    engine = make_engine(f"sqlite:///{app_data_dir / 'cpts.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=base_url, locale="fr-FR", viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(30_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
