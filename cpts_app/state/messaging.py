"""The messaging screen: the user's threads, one open thread, the composer and the search.

Why some vars are sealed when persisted: with several workers the state is pickled into Redis in
clear (REFLEX_NOTES), and decrypted messages, patient names and search excerpts must not sit
there. ``__getstate__`` blanks them and stores them as one AES-GCM envelope under the master key
(which Redis never sees); ``__setstate__`` opens it. If it does not open (a rotated key, an altered
value), the vars stay blank and the handlers reload them from the services. The composer's text is
never a var: the text area is uncontrolled and its value arrives only with the submit event.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import reflex as rx
from reflex.utils import format

from cpts_app.services.agenda.clock import moment_label as paris_label
from cpts_app.services.crypto import CryptoError, open_text, seal_text
from cpts_app.services.errors import DomainError, ValidationFailed
from cpts_app.services.messaging import attachments, messages, search, threads
from cpts_app.services.messaging.care_team import ROLE_LABELS
from cpts_app.services.messaging.views import MessageView, ThreadPage, ThreadSummary
from cpts_app.services.permissions import Actor, Permission, has_permission
from cpts_app.settings import get_settings
from cpts_app.state.inbox import announce
from cpts_app.state.service_call import run_service
from cpts_app.state.session import SessionState, sign_in_redirect

PAGE = "/messagerie"
WINDOW = 50
MAX_WINDOW = 200
READ_BY_NAMES = 6
"""Beyond this many readers, « Lu par 37 membres » rather than 37 names."""
SMALL_TEAM = 20
"""Read receipts are pushed live to the authors only in threads this small (care teams)."""
KIND_FILTERS = [
    ["tous", "Tout"],
    ["patient", "Patients"],
    ["channel", "Canaux"],
    ["direct", "Privés"],
    ["broadcast", "Annonces"],
]
SEALED_STATE_PURPOSE = "etat-messagerie"
FRESH_LIMIT = 20
"""Messages appended live go to ``fresh`` (a small var: the delta to each tab carries only them)
until this many; then they are folded into ``rows`` in one bigger delta."""
EPHEMERAL = ("threads", "thread", "rows", "fresh", "members", "hits", "drafts", "candidates", "patients")
"""Vars holding decrypted text or patient names: never pickled in clear (see the module docstring)."""


def _size_label(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} Mo".replace(".", ",")
    return f"{max(1, round(size / 1024))} Ko"


def _thread_row(summary: ThreadSummary, selected: int) -> dict[str, Any]:
    return {
        "id": summary.id,
        "kind": summary.kind,
        "title": summary.title,
        "subtitle": summary.subtitle,
        "when": paris_label(summary.last_message_at) if summary.last_message_at else "",
        "unread": summary.unread,
        "mentions": summary.mentions_unread,
        "left": summary.left,
        "selected": summary.id == selected,
        "href": f"{PAGE}?fil={summary.id}",
    }


def _message_row(view: MessageView) -> dict[str, Any]:
    return {
        "id": view.id,
        "author": view.author_name,
        "when": paris_label(view.created_at),
        "blocks": [
            {
                "kind": block.kind,
                "number": f"{block.number}." if block.number else "",
                "spans": [dataclasses.asdict(span) for span in block.spans],
            }
            for block in view.blocks
        ],
        "attachments": [
            {
                "id": a.id,
                "name": a.name,
                "size": _size_label(a.size_bytes),
                "is_image": a.content_type.startswith("image/"),
                "href": f"/api/messagerie/pieces-jointes/{a.id}",
            }
            for a in view.attachments
        ],
        "deleted": view.deleted,
        "tombstone": view.tombstone,
        "mine": view.is_mine,
        "can_delete": view.can_delete,
        "mentions_me": view.mentions_me,
        "read_by": ", ".join(view.read_by)
        if len(view.read_by) <= READ_BY_NAMES
        else f"{len(view.read_by)} membres",
    }


class MessagingState(SessionState):
    threads: list[dict[str, Any]] = []
    kind_filter: str = "tous"
    kind_filters: list[list[str]] = KIND_FILTERS
    thread_id: int = 0
    thread: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    """Shown after ``rows``: what arrived live since the window was loaded (see FRESH_LIMIT)."""
    has_older: bool = False
    members: list[dict[str, Any]] = []
    drafts: list[dict[str, Any]] = []
    hits: list[dict[str, Any]] = []
    candidates: list[dict[str, Any]] = []
    patients: list[dict[str, Any]] = []
    error: str = ""
    compose_error: str = ""
    search_error: str = ""
    dialog_error: str = ""
    search_done: bool = False
    uploading: bool = False
    can_coordinate_messaging: bool = False
    new_role: str = ""
    role_options: list[str] = list(ROLE_LABELS)
    broadcast_targets: list[list[str]] = []
    _window_start: int = 0
    _last_seen: int = 0
    _subtitle: str = ""
    _team_stale: bool = True
    _active_members: int = 0
    _loaded_query: str | None = None
    _tombstones: list[int] = []
    """Ids of the shown messages that are tombstones (checked at each live append, without
    walking the shown rows)."""
    """The ``fil`` parameter the last completed load was for (None: never loaded)."""

    _sealed_view: bytes = b""
    """Only in a pickled copy: the EPHEMERAL vars, sealed (see the module docstring)."""

    def __getstate__(self):
        fields = dict(super().__getstate__())
        private = {name: fields[name] for name in EPHEMERAL if name in fields}
        for name in private:
            fields[name] = {} if name == "thread" else []
        fields["_sealed_view"] = seal_text(
            # Reflex's encoder: the vars may hold its own list and dict types.
            format.json_dumps(private),
            purpose=SEALED_STATE_PURPOSE,
            record_id=self.get_full_name(),
        )
        return fields

    def __setstate__(self, state: dict[str, Any]):
        sealed = state.pop("_sealed_view", b"")
        super().__setstate__(state)
        if not sealed:
            return
        try:
            private = json.loads(
                open_text(sealed, purpose=SEALED_STATE_PURPOSE, record_id=self.get_full_name())
            )
        except (CryptoError, ValueError):
            return  # blank: the next handler reloads from the services
        vars(self).update({name: value for name, value in private.items() if name in EPHEMERAL})

    # --- loading ---------------------------------------------------------------------------

    async def _signed_in(self) -> Actor | None:
        actor = await self._actor()
        if actor is not None:
            self._for_actor(actor)
        return actor

    def _for_actor(self, actor: Actor) -> None:
        self._show_actor(actor)
        self.can_coordinate_messaging = has_permission(actor, Permission.COORDINATE_MESSAGING)

    @rx.event
    async def load(self):
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(self.router.url.path)
        await self._reload(actor)
        return None

    def _needs_reload(self) -> bool:
        """The page's load never completed for this address (with several workers, a load whose
        state lock expired under a crowd of connections is not saved): the listener redoes it."""
        return self._loaded_query != self.router.url.query_parameters.get("fil", "")

    async def _reload(self, actor: Actor) -> None:
        self._for_actor(actor)
        raw = self.router.url.query_parameters.get("fil", "")
        self.error = self.compose_error = self.search_error = self.dialog_error = ""
        self.hits, self.search_done, self.thread, self.members = [], False, {}, []
        self._set_rows([])
        self._window_start = self._last_seen = 0
        self.thread_id = 0
        if raw:
            if not raw.isdigit() or len(raw) > 12:
                self.error = "Cette conversation n'existe pas."
            else:
                self.thread_id = int(raw)
        await self._load_threads(actor)
        if self.thread_id:
            await self._load_thread(actor, initial=True)
        self._loaded_query = raw

    async def _load_threads(self, actor: Actor) -> None:
        kind = None if self.kind_filter == "tous" else self.kind_filter
        rows = await run_service(lambda s: threads.list_threads(s, actor, kind=kind, limit=100))
        self.threads = [_thread_row(row, self.thread_id) for row in rows]

    async def _load_thread(self, actor: Actor, *, initial: bool = False) -> None:
        """Reload the shown window of the open thread; the members only when they may have changed.

        Why the members are not always reloaded: a channel of 200 members would send 200 rows to
        each of its 200 open tabs at every message; the member count (in the summary) tells when
        the list changed, and every membership action reloads it explicitly.
        """
        thread_id, start = self.thread_id, self._window_start
        with_team = initial or not self.members or self._team_stale
        known_subtitle = self._subtitle

        def work(session):
            if initial or not start:
                page = messages.load_messages(session, actor, thread_id, limit=WINDOW)
            else:
                page = messages.load_messages(session, actor, thread_id, after_id=start - 1, limit=MAX_WINDOW)
            summary = threads.thread_summary(session, actor, thread_id)
            team = (
                threads.care_team(session, actor, thread_id)
                if with_team or summary.subtitle != known_subtitle
                else None
            )
            drafts = attachments.draft_views(session, actor, thread_id) if initial else None
            return page, team, drafts, summary

        try:
            # Reading (and the read audit of patient threads) in its own transaction, so that the
            # tabs of a big channel reload concurrently; only the reading position is a write.
            audited = initial or not start or self.thread.get("kind", "patient") == "patient"
            page, team, drafts, summary = await run_service(work, write=audited)
            last = page.messages[-1].id if page.messages else 0
            moved: tuple[int, ...] = ()
            if last and summary.is_member and (summary.unread or last > self._last_seen):
                moved = await run_service(
                    lambda s: messages.mark_read(s, actor, thread_id, last) or (), write=True
                )
        except DomainError as error:
            self._show_refusal(error.message)
            return
        self.error = ""
        if initial or not start:
            self.has_older = page.has_older
        self._window_start = page.messages[0].id if page.messages else 0
        self._last_seen = page.messages[-1].id if page.messages else 0
        self._set_rows([_message_row(m) for m in page.messages])
        if team is not None:
            self._team_stale = False
            self._active_members = len([m for m in team if m.left_at is None])
            self.members = [
                {
                    "user_id": m.user_id,
                    "name": m.name,
                    "role": m.role_label,
                    "profession": m.profession,
                    "left": m.left_at is not None,
                    "since": paris_label(m.joined_at) if m.joined_at else "",
                }
                for m in team
            ]
        if drafts is not None:
            self.drafts = [{"id": d.id, "name": d.name, "size": _size_label(d.size_bytes)} for d in drafts]
        self._subtitle = summary.subtitle
        self.thread = {
            "title": summary.title,
            "subtitle": summary.subtitle,
            "kind": summary.kind,
            "can_post": summary.can_post,
            "is_member": summary.is_member,
            "left": summary.left,
            "manageable": self.can_coordinate_messaging and summary.kind in ("patient", "channel"),
        }
        if moved and self._active_members <= SMALL_TEAM:
            await announce(moved, thread_id)

    async def _threads_changed(self, actor: Actor, thread_ids: frozenset[int] | None) -> None:
        """Called by the tab's inbox listener (not an event: the browser cannot call it).

        ``thread_ids`` are the threads that changed (0: unknown, after a lost Redis link), None
        for the catch-up when the listener starts. The list is re-read; the open thread only if
        it is among them — a big channel's tab fetches just the new messages.
        """
        await self._load_threads(actor)
        if not self.thread_id or self.error:
            return
        if thread_ids is None:
            if self.rows:
                await self._append_new(actor)
            return
        if self.thread_id not in thread_ids and 0 not in thread_ids:
            return
        if self.rows and self._active_members > SMALL_TEAM and not self._team_stale:
            await self._append_new(actor)
        else:
            await self._load_thread(actor)

    async def _append_new(self, actor: Actor) -> None:
        """A big channel's tab: fetch only the messages after the last one shown (one decrypt each
        instead of the whole window), unless a shown message was deleted meanwhile."""
        plan = (self.thread_id, self._last_seen, self._window_start)

        try:
            page, deleted = await run_service(
                lambda s: messages.new_messages(s, actor, *plan), write=self.thread.get("kind") == "patient"
            )
        except DomainError as error:
            self._show_refusal(error.message)
            return
        last = self._append_rows(page, deleted)
        if last is None:
            await self._load_thread(actor)
        elif last:
            await run_service(lambda s: messages.mark_read(s, actor, plan[0], last), write=True)

    # --- the inbox listener's quick path (big channels) ----------------------------------------

    def _quick_plan(self, thread_ids: frozenset[int] | None) -> tuple[int, int, int] | None:
        """``(thread, last shown, first shown)`` when only the open thread of a big channel changed
        and this tab holds its rows: the listener then reads just what follows, in the same
        transaction as the session check, and marks it read after the delta left."""
        if (
            thread_ids != frozenset({self.thread_id})
            or not self.thread_id
            or self.error
            or not self.rows
            or self._team_stale
            or self._active_members <= SMALL_TEAM
        ):
            return None
        return self.thread_id, self._last_seen, self._window_start

    @property
    def _quick_write(self) -> bool:
        """Reading a patient thread writes its audit event."""
        return self.thread.get("kind") == "patient"

    def _show_refusal(self, message: str) -> None:
        self.error, self.thread, self.members = message, {}, []
        self._set_rows([])

    def _set_rows(self, rows: list[dict[str, Any]]) -> None:
        """The whole window at once: ``fresh`` empties (only assigned when it held something, so
        that an unchanged var is not sent again)."""
        self.rows = rows
        self._tombstones = [int(r["id"]) for r in rows if r["deleted"]]
        if self.fresh:
            self.fresh = []

    def _append_rows(self, page: ThreadPage, deleted: set[int]) -> int | None:
        """Append what followed; the id to mark read (0: nothing new), None when a shown message
        became a tombstone (the window must be reloaded)."""
        if {i for i in deleted if i <= self._last_seen} - set(self._tombstones):
            return None  # a shown message became a tombstone
        if not page.messages:
            return 0
        new = [_message_row(m) for m in page.messages]
        self._tombstones = [*self._tombstones, *(int(r["id"]) for r in new if r["deleted"])]
        if len(self.fresh) + len(new) <= FRESH_LIMIT:
            self.fresh = [*self.fresh, *new]
        else:
            self._set_rows([*self.rows, *self.fresh, *new][-MAX_WINDOW:])
        self._last_seen = page.messages[-1].id
        newest = page.messages[-1]
        for index, row in enumerate(self.threads):
            if row["id"] == self.thread_id:
                moved = {**row, "when": paris_label(newest.created_at), "unread": 0, "mentions": 0}
                if index or moved != row:  # unchanged: not sent again to every tab
                    self.threads = [moved, *self.threads[:index], *self.threads[index + 1 :]]
                break
        return self._last_seen

    @rx.event
    async def set_kind_filter(self, value: str | list[str]):
        value = value if isinstance(value, str) else (value[0] if value else "tous")
        if value not in {k for k, _ in KIND_FILTERS}:
            return None
        self.kind_filter = value
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(PAGE)
        await self._load_threads(actor)
        return None

    @rx.event
    async def load_older(self):
        actor = await self._signed_in()
        if actor is None or not self.thread_id or not self._window_start:
            return None
        thread_id, before = self.thread_id, self._window_start
        try:
            older = await run_service(
                lambda s: messages.load_messages(s, actor, thread_id, before_id=before, limit=WINDOW),
                write=True,
            )
        except DomainError as error:
            self.error = error.message
            return None
        if older.messages:
            self._window_start = older.messages[0].id
        self.has_older = older.has_older
        await self._load_thread(actor)
        return None

    # --- writing ---------------------------------------------------------------------------

    async def _changed(
        self, actor: Actor, recipients: tuple[int, ...] | list[int], *, team: bool = False
    ) -> None:
        """After a committed change: refresh this tab, then tell the members' tabs.

        ``team``: the membership changed, so the member list is re-read too.
        """
        self._team_stale = self._team_stale or team
        await self._load_threads(actor)
        if self.rows and not self._team_stale and self._active_members > SMALL_TEAM:
            # A big channel: fetch what follows the window rather than re-open the whole of it.
            await self._append_new(actor)
        else:
            await self._load_thread(actor)
        # Last: the members' tabs start re-reading once this one has finished its own reads.
        await announce(recipients, self.thread_id)

    @rx.event
    async def send(self, form_data: dict[str, Any]):
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(PAGE)
        text = form_data.get("texte")
        if not isinstance(text, str):
            text = ""
        if len(text) > 20_000:
            self.compose_error = "Le message est trop long (10 000 caractères au plus)."
            return None
        thread_id = self.thread_id
        draft_ids = [int(d["id"]) for d in self.drafts] if self.drafts else []
        if not draft_ids:
            draft_ids = await run_service(
                lambda s: [d.id for d in attachments.draft_views(s, actor, thread_id)]
            )
        try:
            posted = await run_service(
                lambda s: messages.post_message(s, actor, thread_id, text, draft_ids), write=True
            )
        except ValidationFailed as failure:
            self.compose_error = " ".join(m for m in failure.errors.values() if m) or failure.message
            return None
        except DomainError as error:
            self.compose_error = error.message
            return None
        self.compose_error, self.drafts = "", []
        self._window_start = 0
        await self._changed(actor, posted.recipient_user_ids)
        return rx.set_value("composer", "")

    @rx.event
    async def delete_message(self, message_id: int):
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(PAGE)
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            return None
        try:
            posted = await run_service(lambda s: messages.delete_message(s, actor, message_id), write=True)
        except DomainError as error:
            self.compose_error = error.message
            return None
        await self._changed(actor, posted.recipient_user_ids)
        return None

    @rx.event(background=True)
    async def upload_attachment(self, chunks: rx.UploadChunkIterator):
        """Streamed upload: bytes stay in memory (never in Reflex's public upload folder), the size
        is enforced while reading, and the file is sealed as a draft of the open thread."""
        async with self:
            actor = await self._actor()
            thread_id = self.thread_id
            self.uploading, self.compose_error = True, ""
        limit = get_settings().attachment_max_bytes
        files: dict[str, bytearray] = {}
        refused = ""
        async for chunk in chunks:
            buffer = files.setdefault(chunk.filename, bytearray())
            buffer.extend(chunk.data)
            if len(buffer) > limit:
                refused = attachments.too_large_message()
                break
        if actor is None or not thread_id:
            refused = refused or "Ouvrez une conversation avant de joindre un fichier."
        if not refused:
            for name, data in files.items():
                try:
                    await run_service(
                        lambda s, n=name, d=bytes(data): attachments.stage_attachment(
                            s, actor, thread_id, n, d
                        ),
                        write=True,
                    )
                except ValidationFailed as failure:
                    refused = " ".join(m for m in failure.errors.values() if m) or failure.message
                    break
                except DomainError as error:
                    refused = error.message
                    break
        files.clear()
        async with self:
            self.uploading = False
            self.compose_error = refused
            if actor is not None and thread_id:
                drafts = await run_service(lambda s: attachments.draft_views(s, actor, thread_id))
                self.drafts = [
                    {"id": d.id, "name": d.name, "size": _size_label(d.size_bytes)} for d in drafts
                ]
        return rx.clear_selected_files("pj")

    @rx.event
    async def discard_draft(self, attachment_id: int):
        actor = await self._signed_in()
        if actor is None or not isinstance(attachment_id, int):
            return None
        try:
            await run_service(lambda s: attachments.discard_draft(s, actor, attachment_id), write=True)
        except DomainError as error:
            self.compose_error = error.message
        thread_id = self.thread_id
        drafts = await run_service(lambda s: attachments.draft_views(s, actor, thread_id))
        self.drafts = [{"id": d.id, "name": d.name, "size": _size_label(d.size_bytes)} for d in drafts]
        return None

    # --- search ----------------------------------------------------------------------------

    @rx.event
    async def run_search(self, form_data: dict[str, Any]):
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(PAGE)
        query = str(form_data.get("recherche") or "")[:200]
        try:
            found = await run_service(lambda s: search.search_messages(s, actor, query), write=True)
        except ValidationFailed as failure:
            self.search_error = " ".join(m for m in failure.errors.values() if m) or failure.message
            self.hits, self.search_done = [], False
            return None
        except DomainError as error:
            self.search_error, self.hits, self.search_done = error.message, [], False
            return None
        self.search_error, self.search_done = "", True
        self.hits = [
            {
                "thread": hit.thread_title,
                "author": hit.author_name,
                "when": paris_label(hit.created_at),
                "excerpt": hit.excerpt,
                "href": f"{PAGE}?fil={hit.thread_id}#message-{hit.message_id}",
            }
            for hit in found
        ]
        return None

    @rx.event
    def clear_search(self):
        self.hits, self.search_done, self.search_error = [], False, ""

    # --- teams, channels, direct conversations, broadcasts -------------------------------------

    @rx.event
    async def find_users(self, form_data: dict[str, Any]):
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(PAGE)
        query = str(form_data.get("personne") or "").strip()[:100]
        if len(query) < 2:
            self.dialog_error, self.candidates = "Tapez au moins 2 lettres du nom.", []
            return None
        found = await run_service(lambda s: threads.candidate_users(s, actor, query))
        self.dialog_error = "" if found else "Personne ne correspond à cette recherche."
        self.candidates = [{"user_id": c.user_id, "name": c.name, "detail": c.detail} for c in found]
        return None

    @rx.event
    async def find_patients(self, form_data: dict[str, Any]):
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(PAGE)
        from cpts_app.services import patients

        query = str(form_data.get("patient") or "").strip()[:100]
        try:
            found = await run_service(lambda s: patients.search_patients(s, actor, query), write=True)
        except DomainError as error:
            self.dialog_error, self.patients = error.message, []
            return None
        self.dialog_error = "" if found else "Aucun patient ne correspond."
        self.patients = [
            {"id": p.id, "name": p.display_name, "detail": f"né(e) le {p.birth_date} · {p.commune_name}"}
            for p in found
        ]
        return None

    async def _open(self, work) -> Any:
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(PAGE)
        try:
            result = await run_service(lambda s: work(s, actor), write=True)
        except ValidationFailed as failure:
            self.dialog_error = " ".join(m for m in failure.errors.values() if m) or failure.message
            return None
        except DomainError as error:
            self.dialog_error = error.message
            return None
        self.dialog_error, self.candidates, self.patients = "", [], []
        return result

    @rx.event
    async def open_care_team(self, patient_id: int):
        if not isinstance(patient_id, int):
            return None
        thread = await self._open(lambda s, actor: threads.open_care_team(s, actor, patient_id).id)
        return rx.redirect(f"{PAGE}?fil={thread}") if isinstance(thread, int) else thread

    @rx.event
    async def open_direct(self, user_id: int):
        if not isinstance(user_id, int):
            return None
        thread = await self._open(lambda s, actor: threads.open_direct(s, actor, user_id).id)
        return rx.redirect(f"{PAGE}?fil={thread}") if isinstance(thread, int) else thread

    @rx.event
    def set_new_role(self, value: str):
        if value in ROLE_LABELS:
            self.new_role = value

    @rx.event
    async def leave_thread(self):
        actor = await self._signed_in()
        if actor is None:
            return sign_in_redirect(PAGE)
        thread_id, user_id = self.thread_id, actor.user_id
        done = await self._open(lambda s, a: threads.remove_member(s, a, thread_id, user_id) or user_id)
        if isinstance(done, int):
            await self._changed(actor, [user_id], team=True)
        return None

    @rx.event
    async def load_broadcast_targets(self):
        """Professions, communes and structures a coordinator can address (on opening the dialog)."""
        actor = await self._signed_in()
        if actor is None or not self.can_coordinate_messaging:
            return None
        from cpts_app.services import directory

        def work(s):
            communes = directory.commune_options(s)
            structures = directory.structure_options(s, actor)
            return communes, structures

        communes, structures = await run_service(work)
        self.broadcast_targets = (
            [
                [f"profession:{value}", f"Profession : {label}"]
                for value, label in directory.profession_options()
            ]
            + [[f"commune:{c.id}", f"Commune : {c.name}"] for c in communes]
            + [[f"structure:{st.id}", f"Structure : {st.name}"] for st in structures]
        )
        return None

    @rx.event
    async def add_member(self, user_id: int):
        role_label = self.new_role
        if not isinstance(user_id, int) or not role_label:
            self.dialog_error = "Choisissez le rôle dans l'équipe avant d'ajouter."
            return None
        thread_id = self.thread_id
        done = await self._open(
            lambda s, actor: threads.add_member(s, actor, thread_id, user_id, role_label).user_id
        )
        if isinstance(done, int):
            actor = await self._actor()
            if actor is not None:
                await self._changed(actor, [done, actor.user_id], team=True)
        return None

    @rx.event
    async def remove_member(self, user_id: int):
        if not isinstance(user_id, int):
            return None
        thread_id = self.thread_id
        done = await self._open(
            lambda s, actor: threads.remove_member(s, actor, thread_id, user_id) or user_id
        )
        actor = await self._actor()
        if isinstance(done, int) and actor is not None:
            await self._changed(actor, [done, actor.user_id], team=True)
        return None

    @rx.event
    async def create_channel(self, form_data: dict[str, Any]):
        title = str(form_data.get("titre") or "")[:200]
        thread = await self._open(lambda s, actor: threads.create_channel(s, actor, title, []).id)
        return rx.redirect(f"{PAGE}?fil={thread}") if isinstance(thread, int) else thread

    @rx.event
    async def send_broadcast(self, form_data: dict[str, Any]):
        target = str(form_data.get("cible") or "")
        kind, _, key = target.partition(":")
        title = str(form_data.get("titre") or "")[:200]
        text = str(form_data.get("texte") or "")[:20_000]

        def work(s, actor):
            thread, posted = threads.broadcast(
                s, actor, target_kind=kind, target_key=key, title=title, text=text
            )
            return thread.id, posted.recipient_user_ids

        result = await self._open(work)
        if isinstance(result, tuple):
            await announce(result[1], result[0])
            return rx.redirect(f"{PAGE}?fil={result[0]}")
        return result

    @rx.event
    def clear_dialog(self):
        self.dialog_error, self.candidates, self.patients = "", [], []
