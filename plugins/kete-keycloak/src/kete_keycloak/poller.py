"""``[sources.<name>] kind = "keycloak-admin-api"``: poll Keycloak's stored events over the Admin REST API.

For each realm (a list, or ``*`` for every realm the account can see) and stream (``events``,
``admin-events``) the source reads what Keycloak stored since its checkpoint, at ``interval``:

- **26.2 and later** (events carry ``id``): ``dateFrom=<newest read - settle-lag>&direction=asc``,
  page after page; a full page is followed by a query from its newest time (rather than an offset,
  which is unstable because Keycloak orders by time only). Events already read are recognised by id.
- **older servers** (no ids, newest first, whole-day ``dateFrom``): pages are read back from the
  newest until the checkpoint time, then sorted oldest first; events are recognised by a hash of
  their content, counted so that identical events stay apart. A warning says duplicates are possible.

The mode is chosen from the server's answer (``mode = "auto"``). Every event gets the realm's name
(``realmName``). The checkpoint (:mod:`kete_keycloak.state`) is written with each batch in the
spool's transaction, so a restart re-reads only the settle-lag window and emits nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import orjson

from kete_core import Event, Intake, MalformedEvent, Rejection, Source, SourceError
from kete_keycloak.client import (
    KeycloakBadRequest,
    KeycloakClient,
    KeycloakError,
    KeycloakForbidden,
    KeycloakNotFound,
    make_ssl_context,
    realm_path,
    token_url_for,
)
from kete_keycloak.settings import ALL_REALMS, AdminApiSourceConfig
from kete_keycloak.state import PollerState, StreamState, event_key, event_time

log = logging.getLogger("kete.keycloak")

_RELOG_AFTER = 300.0
_FIRST_BACKOFF = 1.0


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


StreamKey = tuple[str, str]


class _Stopping(Exception):
    """kete is stopping: a request was abandoned."""


class AdminApiSource(Source):
    """Polls Keycloak's Admin REST API; see the module documentation.

    :ivar mode: ``ids`` or ``legacy`` once known.
    :ivar gaps: how many possible gaps were detected (events deleted before kete read them, or a
        millisecond with more events than ``max-page-size``); each is also logged as a warning.
    :ivar realm_names: realm id → name, learnt from the realm list and from the events.
    """

    Config = AdminApiSourceConfig
    config: AdminApiSourceConfig

    def __init__(self, name: str, config: AdminApiSourceConfig) -> None:
        super().__init__(name, config)
        self.mode: str | None = None if config.mode == "auto" else config.mode
        self.gaps = 0
        self.realm_names: dict[str, str] = {}
        self._client: KeycloakClient | None = None
        self._ssl = make_ssl_context(config.tls_verify, config.ca_file, f"sources.{name}")
        self._state = PollerState()
        self._fresh = True
        self._realms: list[str] | None = None
        self._realms_due = 0.0
        self._realm_failures = 0
        self._due: dict[StreamKey, float] = {}
        self._failures: dict[StreamKey, int] = {}
        self._recheck: set[StreamKey] = set()
        self._problems: dict[str, tuple[str, bool]] = {}
        self._logged: dict[str, float] = {}
        self._failing: set[str] = set()
        self._dirty = False
        self._legacy_warned = False
        self._stopping: asyncio.Event | None = None
        self._ties: dict[StreamKey, int] = {}

    # ------------------------------------------------------------------ run

    async def run(self, intake: Intake) -> None:
        config = self.config
        self._stopping = intake.stopping
        try:
            saved = PollerState.decode(intake.checkpoint)
        except ValueError as exc:
            raise SourceError(
                f"cannot resume: {exc}",
                path=f"sources.{self.name}",
                hint="a source's name keeps its position; give a new source a new name",
            ) from exc
        if saved is not None:
            self._state, self._fresh = saved, False
        self._client = KeycloakClient(
            config.server,
            config.token_url or token_url_for(config.server, config.resolved_client_realm),
            config.client_id,
            config.client_secret.get_secret_value(),
            timeout=config.request_timeout,
            ssl_context=self._ssl,
        )
        while not intake.stopping.is_set():
            await self._cycle(intake)
            now = time.monotonic()
            upcoming = [*self._due.values(), self._realms_due] if self._due else [self._realms_due]
            wait = max(0.05, min(upcoming) - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(intake.stopping.wait(), timeout=wait)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    def _backoff(self, failures: int) -> float:
        wait = min(self.config.max_backoff, _FIRST_BACKOFF * 2 ** max(0, failures - 1))
        return wait * (0.75 + random.random() / 4)

    async def _cycle(self, intake: Intake) -> None:
        now = time.monotonic()
        if self._realms is None or now >= self._realms_due:
            try:
                complete = await self._load_realms()
                self._realm_failures = 0
                self._problems.pop("realms", None)
                self._realms_due = now + (self.config.realms_refresh if not complete or self._listing else 1e12)
            except KeycloakError as exc:
                self._realm_failures += 1
                self._problems["realms"] = (self._explain(exc), exc.transient)
                self._realms_due = now + self._backoff(self._realm_failures)
                if self._realms is None:
                    self._report(intake)
                    return
                # Keep polling the realms known so far.
        self._prepare_streams(self._realms)
        if self._dirty:
            await self._save(intake)
        for key in [key for key, due in self._due.items() if due <= time.monotonic()]:
            if intake.stopping.is_set():
                return
            realm, stream = key
            try:
                await self._poll(intake, realm, stream)
            except _Stopping:
                return
            except Exception as exc:
                if not isinstance(exc, KeycloakError):
                    log.exception("source '%s': realm '%s' %s: polling failed", self.name, realm, stream)
                    exc = KeycloakError(f"realm '{realm}' {stream}: {type(exc).__name__}: {exc}")
                failures = self._failures[key] = self._failures.get(key, 0) + 1
                self._due[key] = time.monotonic() + max(self._backoff(failures), min(self.config.interval, 1.0))
                self._problems[f"{realm} {stream}"] = (self._explain(exc, realm), exc.transient)
                self._recheck.add(key)
            else:
                self._failures[key] = 0
                self._due[key] = time.monotonic() + self.config.interval
                self._problems.pop(f"{realm} {stream}", None)
        self._report(intake)

    # ------------------------------------------------------------------ realms and streams

    @property
    def _listing(self) -> bool:
        return self.config.realms == [ALL_REALMS]

    async def _load_realms(self) -> bool:
        """Find the realms to poll and learn realm names; False when the (optional) listing failed."""
        assert self._client is not None
        try:
            listed = await self._client.get("", {"briefRepresentation": "true"})
        except KeycloakError:
            if self._listing:
                raise
            # A fixed realm list needs no listing; it only names the realms of admins (authDetails).
            self._realms = list(self.config.realms)
            return False
        names = []
        for realm in listed if isinstance(listed, list) else []:
            if isinstance(realm, dict) and isinstance(realm.get("realm"), str):
                names.append(realm["realm"])
                if isinstance(realm.get("id"), str):
                    self.realm_names[realm["id"]] = realm["realm"]
        if not self._listing:
            self._realms = list(self.config.realms)
            return True
        if not names:
            raise KeycloakForbidden(f"{self._client.account} cannot see any realm (GET /admin/realms answered [])")
        if self._realms is not None:
            for added in sorted(set(names) - set(self._realms)):
                log.info("source '%s': new realm '%s': reading its events from the start", self.name, added)
        self._realms = names
        return True

    def _prepare_streams(self, realms: Sequence[str]) -> None:
        """Give every (realm, stream) a state and a due time; forget realms that are gone."""
        streams = self.config.streams
        before = set(self._state.streams)
        self._state.keep_only(realms)
        if set(self._state.streams) != before:
            self._dirty = True
        wanted = {(realm, stream) for realm in realms for stream in streams}
        for key in list(self._due):
            if key not in wanted:
                del self._due[key]
                self._failures.pop(key, None)
                self._problems.pop(f"{key[0]} {key[1]}", None)
        for realm in realms:
            for stream in streams:
                key = (realm, stream)
                if self._state.get(realm, stream) is None:
                    # Without any checkpoint, start-at decides; a realm or stream that appears later
                    # (created, or added to the settings) is new, so all it stored is unread.
                    now = self._fresh and self.config.start_at == "now"
                    self._state.put(realm, stream, StreamState(time=int(time.time() * 1000) if now else None))
                    self._dirty = True
                if key not in self._due:
                    self._due[key] = 0.0
                    self._recheck.add(key)
        self._fresh = False

    # ------------------------------------------------------------------ polling

    def _filters(self, stream: str) -> dict[str, str | int | Sequence[str]]:
        config = self.config
        if stream == "events":
            return {"type": config.event_types} if config.event_types else {}
        params: dict[str, str | int | Sequence[str]] = {}
        if config.operation_types:
            params["operationTypes"] = config.operation_types
        if config.resource_types:
            params["resourceTypes"] = config.resource_types
        return params

    async def _page(self, realm: str, stream: str, params: dict[str, str | int | Sequence[str]]) -> list[Any]:
        assert self._client is not None and self._stopping is not None
        request = asyncio.ensure_future(
            self._client.get(realm_path(realm, f"/{stream}"), {**self._filters(stream), **params})
        )
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            # A slow Keycloak must not hold up a stop; no events are in flight yet at this point.
            await asyncio.wait({request, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if not request.done():
            request.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await request
            raise _Stopping
        answer = request.result()
        if not isinstance(answer, list):
            raise KeycloakError(f"GET {realm_path(realm, '/' + stream)} did not answer with a list of events")
        return answer

    async def _detect_mode(self, realm: str, stream: str) -> str:
        now_ms = int(time.time() * 1000)
        try:
            await self._page(realm, stream, {"dateFrom": str(now_ms), "direction": "asc", "max": 1})
            return "ids"
        except KeycloakBadRequest:
            pass
        # Before 26.2, an epoch-ms dateFrom is a 400; a plain query shows whether that was the reason.
        await self._page(realm, stream, {"max": 1})
        return "legacy"

    async def _poll(self, intake: Intake, realm: str, stream: str) -> None:
        if self.mode is None:
            self.mode = await self._detect_mode(realm, stream)
            self._state.mode = self.mode
            log.info("source '%s': Keycloak at %s: %s mode", self.name, self.config.server, self.mode)
        if self.mode == "legacy" and not self._legacy_warned:
            self._legacy_warned = True
            why = (
                'mode = "legacy" is set'
                if self.config.mode == "legacy"
                else f"Keycloak at {self.config.server} is older than 26.2 (events have no ids and come newest first)"
            )
            log.warning(
                "source '%s': %s: legacy mode; events are told apart by their content, so duplicates are possible",
                self.name,
                why,
            )
        if self.mode == "legacy":
            await self._poll_legacy(intake, realm, stream)
        else:
            await self._poll_ids(intake, realm, stream)

    def _events(self, page: list[Any], realm: str, stream: str, intake: Intake) -> list[dict[str, Any]]:
        good = []
        for item in page:
            if isinstance(item, dict):
                good.append(item)
            else:
                raw = orjson.dumps(item)[:200]
                intake.reject(Rejection(self.name, f"realm {realm} {stream}", "not a JSON object", raw))
        return good

    async def _poll_ids(self, intake: Intake, realm: str, stream: str) -> None:
        config = self.config
        state = self._state.get(realm, stream)
        assert state is not None
        lag = int(config.settle_lag * 1000)
        since = max(0, state.time - lag) if state.time is not None else None
        size, first = config.page_size, 0
        while not intake.stopping.is_set():
            params: dict[str, str | int | Sequence[str]] = {"direction": "asc", "first": first, "max": size}
            if since is not None:
                params["dateFrom"] = str(since)
            raw = await self._page(realm, stream, params)
            page = self._events(raw, realm, stream, intake)
            if (realm, stream) in self._recheck:
                self._recheck.discard((realm, stream))
                self._check_gap(realm, stream, state, page, since or 0)
            new = []
            for data in page:
                if not state.knows(data):
                    state.record(data)
                    new.append(data)
            self._prune(realm, stream, state)
            if new or self._dirty:
                await self._submit(intake, realm, stream, new)
            if len(raw) < size:
                return
            newest = max(map(event_time, page), default=0)
            if since is None or newest > since:
                since, size, first = newest, config.page_size, 0
            elif size < config.max_page_size:
                size, first = min(size * 4, config.max_page_size), 0
            else:
                # Re-reading the settle-lag window meets the same millisecond again: report it once.
                if first == 0 and self._ties.get((realm, stream)) != newest:
                    self._ties[(realm, stream)] = newest
                    self._gap(
                        realm,
                        stream,
                        f"more than {size} events share the millisecond {_iso(newest)}; Keycloak orders them by "
                        "time only, so reading them page by page may skip some (raise max-page-size)",
                    )
                first += size

    async def _poll_legacy(self, intake: Intake, realm: str, stream: str) -> None:
        config = self.config
        state = self._state.get(realm, stream)
        assert state is not None
        lag = int(config.settle_lag * 1000)
        since = max(0, state.time - lag) if state.time is not None else None
        params: dict[str, str | int | Sequence[str]] = {}
        if since is not None:
            # dateFrom takes whole days here (in the server's time zone): one day earlier covers any zone.
            day = dt.datetime.fromtimestamp(since / 1000, dt.UTC).date() - dt.timedelta(days=1)
            params["dateFrom"] = day.isoformat()
        collected: list[dict[str, Any]] = []
        first = 0
        while not intake.stopping.is_set():
            raw = await self._page(realm, stream, {**params, "first": first, "max": config.page_size})
            page = self._events(raw, realm, stream, intake)
            collected += page[_overlap(collected, page) :]
            if len(raw) < config.page_size or (since is not None and min(map(event_time, page), default=0) < since):
                break
            first += config.page_size
        else:
            return
        window = [data for data in reversed(collected) if since is None or event_time(data) >= since]
        window.sort(key=event_time)
        if (realm, stream) in self._recheck:
            self._recheck.discard((realm, stream))
            self._check_gap(realm, stream, state, window, since or 0)
        reads: Counter[str] = Counter()
        new = []
        for data in window:
            key = event_key(data)
            reads[key] += 1
            if reads[key] > state.count(key):
                new.append(data)
        for start in range(0, len(new), config.page_size):
            chunk = new[start : start + config.page_size]
            for data in chunk:
                state.record(data)
            self._prune(realm, stream, state)
            await self._submit(intake, realm, stream, chunk)
        if not new and self._dirty:
            await self._save(intake)

    def _prune(self, realm: str, stream: str, state: StreamState) -> None:
        excess = state.prune(int(self.config.settle_lag * 1000), self.config.max_seen)
        if excess:
            log.warning(
                "source '%s': realm '%s' %s: more than max-seen = %d events in the settle-lag window; "
                "the oldest %d are forgotten and may be emitted again",
                self.name,
                realm,
                stream,
                self.config.max_seen,
                excess,
            )

    # ------------------------------------------------------------------ gaps

    def _check_gap(self, realm: str, stream: str, state: StreamState, page: list[dict[str, Any]], since: int) -> None:
        """After a start or an outage: are the events read last still stored? If not, newer ones
        may have been deleted (expired, cleared) before kete read them."""
        if state.time is None or not state.expected(since) or any(state.knows(data) for data in page):
            return
        oldest = min(map(event_time, page), default=None)
        if oldest is not None and oldest <= state.time:
            return
        now_stored = f"the oldest stored now is from {_iso(oldest)}" if oldest is not None else "none is stored now"
        self._gap(
            realm,
            stream,
            f"the events read last (up to {_iso(state.time)}) are no longer stored and {now_stored}: events "
            "stored in between and deleted (expired, cleared) before kete read them are lost",
        )
        state.seen.clear()
        self._dirty = True

    def _gap(self, realm: str, stream: str, what: str) -> None:
        self.gaps += 1
        log.warning("source '%s': possible gap in realm '%s' %s: %s", self.name, realm, stream, what)

    # ------------------------------------------------------------------ submitting

    async def _submit(self, intake: Intake, realm: str, stream: str, datas: list[dict[str, Any]]) -> None:
        events: list[Event] = []
        for data in datas:
            realm_id = data.get("realmId")
            if isinstance(realm_id, str) and realm_id:
                self.realm_names.setdefault(realm_id, realm)
            data["realmName"] = realm
            try:
                events.append(Event(data, self.realm_names))
            except MalformedEvent as exc:
                where = f"realm {realm} {stream} {data.get('id') or _iso(event_time(data))}"
                intake.reject(Rejection(self.name, where, exc.message, orjson.dumps(data)[:200]))
        await intake.submit(events, self._state.encode())
        self._dirty = False

    async def _save(self, intake: Intake) -> None:
        await intake.submit([], self._state.encode())
        self._dirty = False

    # ------------------------------------------------------------------ readiness and messages

    def _explain(self, exc: KeycloakError, realm: str | None = None) -> str:
        if isinstance(exc, KeycloakForbidden) and realm is not None:
            return f"realm '{realm}': {self._missing_role(realm)}: {exc.message}"
        if isinstance(exc, KeycloakNotFound) and realm is not None:
            return f"realm '{realm}' does not exist or is not visible: {exc.message}"
        if isinstance(exc, KeycloakBadRequest) and self.config.mode == "ids":
            return f'{exc.message}; a Keycloak older than 26.2 needs mode = "legacy" (or "auto")'
        return exc.message

    def _missing_role(self, realm: str) -> str:
        """What the service account lacks to read *realm*'s events. Keycloak keeps a realm's admin
        roles on its ``realm-management`` client, and for master's admins on the ``<realm>-realm``
        clients of the master realm (``master-realm`` for master itself)."""
        client_realm = self.config.resolved_client_realm
        account = f"the service account of client '{self.config.client_id}'"
        if client_realm == "master":
            return f"{account} lacks the role 'view-events' of the '{realm}-realm' client in realm 'master'"
        if client_realm == realm:
            return f"{account} lacks the role 'view-events' of the realm-management client"
        return (
            f"{account} lives in realm '{client_realm}', and only a client of realm '{realm}' (role 'view-events' "
            f"of its realm-management client) or of realm 'master' can read realm '{realm}'"
        )

    def _report(self, intake: Intake) -> None:
        """Log problems when they appear (and every few minutes while they last); set readiness."""
        now = time.monotonic()
        current: dict[str, bool] = {}
        for message, transient in self._problems.values():
            current[message] = transient
        for message, transient in current.items():
            last = self._logged.get(message)
            if last is None or now - last >= _RELOG_AFTER:
                level = logging.WARNING if transient else logging.ERROR
                log.log(level, "source '%s': %s (retrying)", self.name, message)
                self._logged[message] = now
        self._logged = {message: at for message, at in self._logged.items() if message in current}
        for key in sorted(self._failing - set(self._problems)):
            log.info("source '%s': %s: working again", self.name, key)
        self._failing = set(self._problems)
        if current:
            intake.set_ready(False, "; ".join(current)[:1000])
        else:
            intake.set_ready(True)


def _overlap(collected: list[dict[str, Any]], page: list[dict[str, Any]]) -> int:
    """How many leading events of *page* repeat the last ones of *collected*: newest-first offset
    pages shift when events arrive between two requests."""
    if not collected or not page:
        return 0
    keys = [event_key(data) for data in page]
    tail = [event_key(data) for data in collected[-len(page) :]]
    for size in range(min(len(tail), len(keys)), 0, -1):
        if tail[-size:] == keys[:size]:
            return size
    return 0
