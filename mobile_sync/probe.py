"""Is the server reachable? The online/offline indicator of the field pages.

Why a probe of its own: the header asks every ~10 s; it must never block a page (async, 2 s
timeout) and never carries data (the time route needs no authentication).
"""

from __future__ import annotations

import httpx

PROBE_PATH = "/api/sync/heure"
PROBE_TIMEOUT_S = 2.0


async def server_reachable(
    server_url: str, *, timeout: float = PROBE_TIMEOUT_S, transport: httpx.AsyncBaseTransport | None = None
) -> bool:
    """Online means the server answered its time route with a 2xx within ``timeout`` seconds."""
    if not server_url:
        return False
    try:
        async with httpx.AsyncClient(base_url=server_url, timeout=timeout, transport=transport) as http:
            response = await http.get(PROBE_PATH)
    except (httpx.HTTPError, ValueError, OSError):
        return False
    return response.is_success
