"""Where the session secret travels: the ``cpts_session`` cookie of an HTTP or websocket request.

Pure parsing, shared by the HTTP routes (which set the cookie) and the Reflex layer (which reads
it from the websocket handshake); the secret itself is only ever compared by its hash.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

SESSION_COOKIE = "cpts_session"


def token_from_cookie_header(cookie_header: str | None) -> str | None:
    """The session secret carried by a ``Cookie`` header, if any."""
    if not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None and morsel.value else None
