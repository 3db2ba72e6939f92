"""Orientation tests: master keys in a temporary secrets folder (never the repository's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cpts_app.settings import get_settings


@pytest.fixture(autouse=True)
def _secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CPTS_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("CPTS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
