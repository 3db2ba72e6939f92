"""Reflex configuration. Telemetry off; the database URL comes from ``cpts_app.settings``."""

import os

import reflex as rx

from cpts_app.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="cpts_app",
    telemetry_enabled=False,
    db_url=_settings.effective_database_url,
    # One worker keeps state in memory (never pickled to disk in clear); REFLEX_REDIS_URL switches
    # to Redis for several workers (docs/operations.md).
    state_manager_mode="redis" if os.environ.get("REFLEX_REDIS_URL") else "memory",
    # Redis only: how long an event may hold a tab's state lock. Reflex's 10 s was exceeded by
    # page loads queued behind 200 tabs connecting at once on two cores, and such a load is lost.
    redis_lock_expiration=30_000,
    cors_allowed_origins=[_settings.public_url],
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="teal", gray_color="slate", radius="medium", appearance="light")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
