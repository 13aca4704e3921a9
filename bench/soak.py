"""Soak and chaos: weeks of simulated activity, faults and bad input; nothing lost, nothing wedged.

One organization is served on 127.0.0.1 (``Simulator.serve``) and, for each
simulated day, ``simulate_day`` plays the day's bookings, cancellations,
reschedules and (late) no-show marks, some days add data-compliance deletions,
and the scheduled run follows (some days hourly runs). The runs go through the
real job (``run_job``: extract, load, models) with OAuth credentials, under
seeded faults: 429 bursts, 5xx, dropped connections, slow responses, access
tokens expiring mid-run. On some days the run is a separate process killed
with SIGKILL at a random moment, then rerun; from one day on a webhook
subscription lands its deliveries (every run merges them); on one day one
record comes with a ``start_time`` that does not parse (quarantined, the run
"exits 4", the next run succeeds).

At the end the raw tables are compared with the simulator's state (status,
cancellation, reschedule links, no-show, deletions) and every mart with the
simulator's ground truth. ``python -m bench soak --size medium --days 60``
runs the long variant and records its figures in ``bench/results/soak_<size>.json``;
``tests/test_soak.py`` runs the CI variant.

Bounds the scenario keeps (the pipeline's documented delays, not slack in the
comparison): webhooks are on for the last 11 days, so a no-show marked too late
for a recheck age still to come before the end arrives by webhook; the last data-compliance
deletion of an old record is made ``sweep_every_days`` before the end, so the
weekly sweep has run since (no webhook carries a deletion).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from anyio.from_thread import start_blocking_portal

from calendly_elt.calendly.config import CalendlySettings, build_client, resolve_settings
from calendly_elt.errors import CalendlyEltError, one_line
from calendly_elt.models.runner import build_models
from calendly_elt.runner import make_pipeline
from calendly_elt.runner.job import run_job
from calendly_elt.simulator import FaultConfig, SimConfig, Simulator, generate_organization
from calendly_elt.simulator import mutations as sim_mutations
from calendly_elt.simulator.activity import simulate_day
from calendly_elt.simulator.faults import Fault, FaultInjector
from calendly_elt.simulator.ground_truth import compute_ground_truth
from calendly_elt.simulator.ground_truth_marts import compute_mart_truth
from calendly_elt.simulator.store import format_ts, parse_ts, uuid_of
from calendly_elt.simulator.webhooks import WebhookDispatcher
from calendly_elt.simulator.wire import SimRequest, SimResponse
from calendly_elt.webhooks import subscriptions
from calendly_elt.webhooks.keys import SigningKeyStore
from calendly_elt.webhooks.landing import LandingStore
from calendly_elt.webhooks.receiver import create_app

RESULTS = Path(__file__).resolve().parent / "results"
CLIENT_ID, CLIENT_SECRET = "soak-app", "soak-app-secret"
RECEIVER_URL = "https://hooks.example.com/webhooks/calendly"
MALFORMED_START = "next tuesday"
# A no-show marked L after a meeting is found by the first run after the next recheck
# age A > L (1 h, 1 d..7 d, 10 d, 14 d, 21 d, 30 d): the widest gap is 21 d -> 30 d and
# the simulator marks at most 28 days late, so a mark is found at most 9 days + a day of
# runs after it is made. Marks made later than that before the end must come by webhook.
WEBHOOKS_BEFORE_END = 11
FAST = 1_000_000  # requests per minute: the client's own limiter stays out of the way
MART_KEYS: dict[str, tuple[str, ...]] = {
    "fct_bookings": ("booking_id",),
    "metrics_utm_attribution": ("utm_source", "utm_medium", "utm_campaign"),
    "metrics_no_shows": ("month", "event_type_name"),
    "metrics_cancellations": ("month", "event_type_name"),
    "metrics_hosts": ("host_user_uri",),
    "metrics_lead_time": ("event_type_name", "utm_source"),
    "metrics_popular_times": ("weekday", "hour"),
    "metrics_routing_funnel": ("routing_form_uri", "question", "answer"),
    "metrics_weekly": ("week", "event_type_name"),
}
EVENT_COLUMNS = {
    "status": ("status",),
    "start_time": ("start_time", "end_time"),
    "cancellation": ("cancellation__canceler_type", "cancellation__reason"),
}
INVITEE_COLUMNS = {
    "status": ("status",),
    "cancellation": ("cancellation__canceler_type", "cancellation__reason"),
    "rescheduled": ("rescheduled", "new_invitee", "old_invitee"),
    "no_show": ("no_show__uri",),
}


@dataclass
class SoakConfig:
    """The scenario.

    Attributes:
        size: Organization size (``small``, ``medium``...).
        days: Simulated days, one scheduled run each.
        seed: Seed of the organization, the activity, the faults and the kills.
        bookings_per_day: New bookings a day (None: ``simulate_day``'s share of the org).
        hourly_every: Every n-th day has hourly runs instead of one daily run.
        hourly_runs: Runs on such a day, one an hour.
        kill_every: Every n-th day the run is a process SIGKILLed at a random moment.
        expire_every: Every n-th day the access token expires mid-run.
        delete_every: Every n-th day a data-compliance deletion removes 1-2 people.
        webhooks_from: The day the webhook subscription starts (None: 11 days before the end).
        malformed_day: The day one event comes with an unparsable start_time (None: middle).
        faults: The seeded faults of every run.
        backoff_base: The client's 5xx backoff base (seconds).
        folder: Where the warehouse, its state, tokens and landed deliveries go.
    """

    size: str = "small"
    days: int = 60
    seed: int = 13
    bookings_per_day: int | None = None
    hourly_every: int = 9
    hourly_runs: int = 3
    kill_every: int = 11
    expire_every: int = 4
    delete_every: int = 5
    webhooks_from: int | None = None
    malformed_day: int | None = None
    faults: FaultConfig = field(
        default_factory=lambda: FaultConfig(
            seed=13,
            error_rate=0.03,
            drop_rate=0.01,
            burst_every=150,
            burst_length=6,
            burst_reset_seconds=1,
            slow_rate=0.01,
            slow_ms=300.0,
        )
    )
    backoff_base: float = 0.5
    folder: Path = Path("soak")

    @property
    def webhook_day(self) -> int:
        """The first day with the webhook subscription on."""
        if self.webhooks_from is not None:
            return self.webhooks_from
        return max(1, self.days - WEBHOOKS_BEFORE_END)

    @property
    def bad_day(self) -> int:
        """The day of the malformed record: the middle one with a single daily run.

        On an hourly day every run of the day would meet the record (and quarantine it), on
        a kill day the killed run might; the first plain day from the middle is chosen.
        """
        if self.malformed_day is not None:
            return self.malformed_day
        plain = [
            day
            for day in range(max(1, self.days // 2), self.days + 1)
            if day % self.hourly_every and day % self.kill_every
        ]
        return plain[0] if plain else max(1, self.days // 2)


def _plain(value: Any) -> Any:
    """A report field as JSON takes it: counters become dicts with string keys."""
    if isinstance(value, Counter):
        return {str(key): count for key, count in sorted(value.items(), key=lambda kv: str(kv[0]))}
    return value


@dataclass
class SoakReport:
    """What the soak did and what it found."""

    config: dict[str, Any] = field(default_factory=dict)
    mutations: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    runs: int = 0
    runs_killed: int = 0
    kills_missed: int = 0
    hourly_runs: int = 0
    quarantined_runs: list[int] = field(default_factory=list)
    failed_runs: list[str] = field(default_factory=list)
    webhook_deliveries: Counter[int] = field(default_factory=Counter)
    rows_compared: Counter[str] = field(default_factory=Counter)
    rows_diverged: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0

    @property
    def diverged(self) -> int:
        """Rows diverged, every cause."""
        return sum(self.rows_diverged.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        # not asdict(): it rebuilds a Counter from (key, count) pairs, counting the pairs
        document = {item.name: _plain(getattr(self, item.name)) for item in fields(self)}
        document["rows_diverged_total"] = self.diverged
        return document

    def lines(self) -> list[str]:
        """The printed summary."""

        def counts(counter: Counter[Any]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counter.items())) or "none"

        return [
            f"soak: {self.config.get('size')} for {self.config.get('days')} days, "
            f"{self.runs} runs ({self.hourly_runs} hourly), {self.requests} requests, "
            f"{self.seconds:.0f} s",
            f"mutations applied: {counts(self.mutations)}",
            f"faults injected: {counts(self.faults)}",
            f"runs killed: {self.runs_killed} (kill came after the run ended: {self.kills_missed})",
            f"quarantined on days: {self.quarantined_runs or 'none'}; failed runs: "
            f"{self.failed_runs or 'none'}",
            f"webhook deliveries by status: {counts(self.webhook_deliveries)}",
            f"rows compared: {sum(self.rows_compared.values())} ({counts(self.rows_compared)})",
            f"rows diverged: {self.diverged} ({counts(self.rows_diverged)})",
            *(f"  e.g. {example}" for example in self.examples[:10]),
        ]


class AsgiClient:
    """Calls the receiver's ASGI app in-process from synchronous code (httpx's ASGI transport)."""

    def __init__(self, app: Any) -> None:
        self._stack = ExitStack()
        self._portal = self._stack.enter_context(start_blocking_portal())
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://receiver")

    def post(self, url: str, **options: Any) -> httpx.Response:
        """POST to the app."""

        async def call() -> httpx.Response:
            return await self._client.post(url, **options)

        return self._portal.call(call)

    def close(self) -> None:
        """Close the client and its event loop thread."""
        self._portal.call(self._client.aclose)
        self._stack.close()


class CountingFaults(FaultInjector):
    """The simulator's seeded faults, counted by kind."""

    def __init__(self, config: FaultConfig, counts: Counter[str]) -> None:
        super().__init__(config)
        self.counts = counts

    def next_fault(self) -> Fault:
        """Draw the next fault and count it."""
        fault = super().next_fault()
        if fault.drop:
            self.counts["dropped_connection"] += 1
        elif fault.status == 429:
            self.counts["429"] += 1
        elif fault.status is not None:
            self.counts["5xx"] += 1
        if self.config.slow_ms and fault.delay_seconds * 1000 >= self.config.slow_ms:
            self.counts["slow_response"] += 1
        return fault


class Corrupter:
    """Wraps ``Simulator.handle``: while armed, one event's ``start_time`` does not parse."""

    def __init__(self, sim: Simulator) -> None:
        self.inner = sim.handle
        self.target: str | None = None
        self.served = 0

    def __call__(self, request: SimRequest) -> SimResponse:
        response = self.inner(request)
        target = self.target
        if target is None or response.status != 200 or request.path != "/scheduled_events":
            return response
        body = json.loads(response.body)
        for record in body.get("collection", []):
            if record.get("uri") == target:
                record["start_time"] = MALFORMED_START
                self.served += 1
        response.body = json.dumps(body).encode()
        return response


class Soak:
    """One soak: the organization, the served simulator, the warehouse, the report."""

    def __init__(self, config: SoakConfig, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.log = log
        self.rng = random.Random(config.seed)
        self.folder = config.folder.resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.duckdb = self.folder / "soak.duckdb"
        self.report = SoakReport(config={**asdict(config), "folder": str(self.folder)})
        self.store = generate_organization(seed=config.seed, size=config.size)
        self.sim = Simulator(self.store, SimConfig(requests_per_minute=FAST))
        self.sim.faults = CountingFaults(config.faults, self.report.faults)
        self.corrupter = Corrupter(self.sim)
        self.sim.handle = self.corrupter  # type: ignore[method-assign]
        self.sim.register_oauth_client(CLIENT_ID, CLIENT_SECRET, "http://127.0.0.1/callback")
        owner = self.store.personal_access_tokens[self.store.admin_token]
        self.refresh_token = self.sim.issue_oauth_tokens(owner, CLIENT_ID)["refresh_token"]
        self.base_url = ""
        self.last_run_seconds = 10.0
        self.receiver: AsgiClient | None = None

    # ---- settings and runs ---------------------------------------------------------

    def overrides(self) -> dict[str, Any]:
        """The run's settings (OAuth app, served simulator, folders), as keyword values."""
        return {
            "base_url": self.base_url,
            "auth_base_url": self.base_url,
            "access_token": "",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": self.refresh_token,
            "requests_per_minute": FAST,
            "token_store_path": str(self.folder / "tokens.json"),
            "webhook_landing_dir": str(self.folder / "landing"),
        }

    def settings(self) -> CalendlySettings:
        """Resolved settings of a run."""
        return resolve_settings(**self.overrides())

    def run_in_process(self, label: str) -> None:
        """One scheduled run (extract, load, models) at the simulator's now."""
        now = self.store.clock.now()
        started = time.monotonic()
        try:
            result = run_job(
                make_pipeline(duckdb_path=self.duckdb),
                self.settings(),
                as_of=now,
                now=lambda: now,
                client_options={"backoff_base": self.config.backoff_base},
            )
        except Exception as error:
            self.report.failed_runs.append(f"{label}: {type(error).__name__}: {error}"[:300])
            self.log(f"  {label}: FAILED {type(error).__name__}: {error}")
            return
        finally:
            self.report.runs += 1
        self.last_run_seconds = time.monotonic() - started
        summary = result.extraction
        if summary.quarantined:  # what `calendly-elt run` exits 4 on
            self.report.quarantined_runs.append(int(label.split()[1]))
        self.log(
            f"  {label}: {summary.kind}, {summary.requests} requests, "
            f"{summary.quarantined} quarantined, {self.last_run_seconds:.1f} s"
        )

    def run_killed(self, label: str) -> None:
        """The run as its own process, SIGKILLed at a random moment of its work."""
        now = self.store.clock.now()
        env = {
            **os.environ,
            "RUNTIME__LOG_LEVEL": "ERROR",
            "SOAK_SETTINGS": json.dumps(self.overrides()),
        }
        command = [
            sys.executable,
            "-m",
            "bench.soak",
            "worker",
            "--duckdb",
            str(self.duckdb),
            "--now",
            now.isoformat(),
            "--backoff-base",
            str(self.config.backoff_base),
        ]
        root = Path(__file__).resolve().parent.parent
        api_requests = self._api_requests()
        process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while self._api_requests() == api_requests and process.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)  # the process starts; kill after its first API request
        time.sleep(self.rng.uniform(0, self.last_run_seconds * 0.5))  # mid-run, rarely after
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            self.report.runs_killed += 1
            self.log(f"  {label}: SIGKILLed after {self._api_requests() - api_requests} requests")
        else:
            self.report.kills_missed += 1
            self.log(f"  {label}: ended (exit {process.returncode}) before the kill")
        process.wait(timeout=60)
        self.report.runs += 1

    def _api_requests(self) -> int:
        return sum(n for label, n in self.sim.stats.by_route.items() if "/oauth/" not in label)

    @contextmanager
    def tokens_expiring(self, enabled: bool) -> Iterator[None]:
        """Expire every access token once the run has made a random number of requests."""
        if not enabled:
            yield
            return
        stop = threading.Event()
        start, after = self.sim.stats.total, self.rng.randint(5, 60)

        def watch() -> None:
            while not stop.wait(0.005):
                if self.sim.stats.total >= start + after:
                    self.sim.auth.expire_access_tokens()
                    self.report.faults["access_token_expired"] += 1
                    return

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    # ---- the scenario --------------------------------------------------------------

    def run(self) -> SoakReport:
        """Play the whole scenario, compare, and return the report."""
        started = time.monotonic()
        with self.sim.serve() as base_url:
            self.base_url = base_url
            self.log(f"soak: {self.config.size}, {len(self.store.events)} events, {base_url}")
            self.run_in_process("day 0 backfill")
            for day in range(1, self.config.days + 1):
                self.play_day(day)
            self.run_in_process(f"day {self.config.days} final")
        self.close()
        self.report.requests = self.sim.stats.total
        self.compare()
        self.report.seconds = time.monotonic() - started
        return self.report

    def play_day(self, day: int) -> None:
        """One simulated day of activity, then its run(s)."""
        config = self.config
        if day == config.webhook_day:
            try:
                self.subscribe()
            except CalendlyEltError as error:  # the days go on without webhooks; the end tells
                self.report.failed_runs.append(f"day {day} webhook subscription: {one_line(error)}")
        activity = simulate_day(
            self.store, seed=config.seed * 1000 + day, bookings=config.bookings_per_day
        )
        self.report.mutations.update(change.kind for change in activity.changes)
        if day % config.delete_every == 0:
            self.delete_people(day)
        if day == config.bad_day:
            self.corrupter.target = self._fresh_event()
            self.report.faults["malformed_record"] += 1
        expire = day % config.expire_every == 0
        label = f"day {day}"
        if day % config.kill_every == 0 and day != config.bad_day:
            self.run_killed(label)
            with self.tokens_expiring(expire):
                self.run_in_process(f"{label} rerun")
        elif day % config.hourly_every == 0:
            for hour in range(config.hourly_runs):
                if hour:
                    self.hour_of_changes()
                with self.tokens_expiring(expire and hour == 1):
                    self.run_in_process(f"{label} hour {hour}")
                self.report.hourly_runs += 1
        else:
            with self.tokens_expiring(expire):
                self.run_in_process(label)
        self.corrupter.target = None

    def _fresh_event(self) -> str:
        """A future event booked today with a single invitee (every run re-reads it)."""
        now = format_ts(self.store.clock.now())
        for event in self.store.events_between(now, None):
            invitees = self.store.invitees_of(uuid_of(event["uri"]))
            if len(invitees) == 1 and not invitees[0]["old_invitee"]:
                return str(event["uri"])
        raise RuntimeError("no future event to corrupt")

    def hour_of_changes(self) -> None:
        """An hour passes: a cancellation and a reschedule of future meetings."""
        self.store.clock.advance(timedelta(hours=1))
        now = self.store.clock.now()
        future = [
            uuid_of(invitee["uri"])
            for event in self.store.events_between(format_ts(now + timedelta(days=1)), None)
            if event["status"] == "active"
            for invitee in self.store.invitees_of(uuid_of(event["uri"]))
            if invitee["status"] == "active"
        ]
        if len(future) < 2:
            return
        canceled, moved = self.rng.sample(future, 2)
        sim_mutations.cancel_invitee(self.store, canceled, reason="hourly change")
        self.report.mutations["cancel_invitee"] += 1
        start = parse_ts(
            self.store.events[uuid_of(self.store.invitees[moved]["event"])]["start_time"]
        )
        new_start = (start + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
        sim_mutations.reschedule(self.store, moved, new_start_time=new_start)
        self.report.mutations["reschedule"] += 1

    def delete_people(self, day: int) -> None:
        """A data-compliance deletion: recent people, and old ones while a sweep can follow."""
        now = self.store.clock.now()
        old_allowed = day <= self.config.days - 8  # the weekly sweep finds old deletions
        lookback = format_ts(now - timedelta(days=25))
        # a deletion removes every record of the person: late in the scenario, only people
        # whose every meeting is recent (an older one would wait for a sweep after the end)
        first_meeting: dict[str, str] = {}
        for invitee in self.store.invitees.values():
            start = self.store.events[uuid_of(invitee["event"])]["start_time"]
            email = invitee["email"]
            first_meeting[email] = min(start, first_meeting.get(email, start))
        people = sorted(
            email for email, first in first_meeting.items() if old_allowed or first >= lookback
        )
        doomed = self.rng.sample(people, k=min(len(people), self.rng.randint(1, 2)))
        removed = sim_mutations.delete_invitee_data(self.store, doomed)
        self.report.mutations["data_deletion"] += removed

    def subscribe(self) -> None:
        """Subscribe to webhooks; deliveries land through the receiver app from now on."""
        self.store.organization["plan"] = "teams"  # routing-form webhooks need the feature
        keys = SigningKeyStore(self.folder / "webhook-keys.json")
        client = build_client(self.settings())
        try:
            subscriptions.subscribe(client, keys, url=RECEIVER_URL)
        finally:
            client.close()
        (entry,) = keys.entries()
        clock = self.store.clock
        landing = LandingStore(self.folder / "landing", clock=clock.now)
        app = create_app([entry.signing_key], landing, now=lambda: clock.now().timestamp())
        self.receiver = AsgiClient(app)
        receiver = self.receiver

        def send(url: str, headers: dict[str, str], body: bytes) -> int:
            status = receiver.post(urlsplit(url).path, content=body, headers=headers).status_code
            self.report.webhook_deliveries[status] += 1
            return int(status)

        WebhookDispatcher(self.store, send=send)  # synchronous: delivered inside the mutation
        self.log(f"  webhooks on from day {self.config.webhook_day}")

    def close(self) -> None:
        """Stop the receiver."""
        if self.receiver is not None:
            self.receiver.close()

    # ---- the comparison ------------------------------------------------------------

    def compare(self) -> None:
        """Raw tables against the store, marts against the ground truth."""
        pipeline = make_pipeline(duckdb_path=self.duckdb)
        as_of = self.store.clock.now()
        build_models(pipeline, as_of=as_of)  # the last run's build, at the same as_of
        with pipeline.sql_client() as client:
            events = _rows(client, "select * from calendly.scheduled_events")
            invitees = _rows(client, "select * from calendly.invitees")
            quarantined = _rows(client, "select * from calendly.quarantine")
            marts = {
                mart: _rows(client, f"select * from calendly_analytics.{mart}")
                for mart in MART_KEYS
            }
        self.report.rows_compared["quarantine"] = len(quarantined)
        if len(quarantined) != 1:
            self._diverged("quarantine:count", f"{len(quarantined)} quarantined, 1 expected")
        self._compare_raw("scheduled_events", self.store.events, events, EVENT_COLUMNS)
        self._compare_raw("invitees", self.store.invitees, invitees, INVITEE_COLUMNS)
        truth = compute_ground_truth(self.store, as_of=as_of)
        expected = {
            "fct_bookings": truth.bookings,
            "metrics_utm_attribution": truth.utm_attribution,
            "metrics_no_shows": truth.no_shows,
            "metrics_cancellations": truth.cancellations,
            **compute_mart_truth(self.store, as_of),
        }
        for mart, rows in expected.items():
            self._compare_mart(mart, marts[mart], rows)

    def _diverged(self, cause: str, example: str) -> None:
        self.report.rows_diverged[cause] += 1
        if len(self.report.examples) < 30:
            self.report.examples.append(f"{cause}: {example}")

    def _compare_raw(
        self,
        table: str,
        state: dict[str, dict[str, Any]],
        rows: list[dict[str, Any]],
        columns: dict[str, tuple[str, ...]],
    ) -> None:
        loaded: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row["uri"] in loaded:
                self._diverged(f"{table}:duplicate", row["uri"])
            loaded[row["uri"]] = row
        wanted = {obj["uri"]: _flat(obj) for obj in state.values()}
        self.report.rows_compared[table] = len(set(wanted) | set(loaded))
        for uri in sorted(set(loaded) - set(wanted)):
            if not loaded[uri].get("is_deleted"):
                self._diverged(f"{table}:deleted_not_marked", uri)
        for uri, want in sorted(wanted.items()):
            row = loaded.get(uri)
            if row is None or row.get("is_deleted"):
                self._diverged(f"{table}:missing", uri)
                continue
            for cause, names in columns.items():
                differing = [n for n in names if _norm(want.get(n)) != _norm(row.get(n))]
                if differing:
                    name = differing[0]
                    self._diverged(
                        f"{table}:{cause}", f"{uri} {name}: {want.get(name)!r} != {row.get(name)!r}"
                    )
                    break

    def _compare_mart(
        self, mart: str, actual: list[dict[str, Any]], expected: list[dict[str, Any]]
    ) -> None:
        keys = MART_KEYS[mart]

        def key(row: dict[str, Any]) -> tuple[str, ...]:
            return tuple(str(row[column]) for column in keys)

        got = {key(row): row for row in actual}
        want = {key(row): row for row in expected}
        self.report.rows_compared[f"mart:{mart}"] = len(set(got) | set(want))
        for row_key in sorted(set(got) ^ set(want)):
            side = "missing" if row_key in want else "unexpected"
            self._diverged(f"mart:{mart}", f"{side} {row_key}")
        for row_key in sorted(set(got) & set(want)):
            differing = [
                column
                for column, value in want[row_key].items()
                if not _same(value, got[row_key].get(column))
            ]
            if differing:
                column = differing[0]
                self._diverged(
                    f"mart:{mart}",
                    f"{row_key} {column}: "
                    f"{want[row_key][column]!r} != {got[row_key].get(column)!r}",
                )


def _rows(client: Any, sql: str) -> list[dict[str, Any]]:
    with client.execute_query(sql) as cursor:
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _flat(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}__"))
        elif not isinstance(value, list):
            flat[f"{prefix}{key}"] = value
    return flat


def _norm(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return parse_ts(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return (
            expected is not None
            and actual is not None
            and math.isclose(expected, actual, rel_tol=0, abs_tol=1e-9)
        )
    if isinstance(expected, datetime) or isinstance(actual, datetime):
        return _norm(expected) == _norm(actual)
    if isinstance(expected, date):
        return isinstance(actual, date) and expected == actual
    return bool(expected == actual)


# ---- the command ---------------------------------------------------------------------


def worker(argv: list[str]) -> int:
    """``python -m bench.soak worker``: one run in its own process (the one SIGKILLed)."""
    parser = argparse.ArgumentParser(prog="bench.soak worker")
    parser.add_argument("--duckdb", required=True)
    parser.add_argument("--now", required=True)
    parser.add_argument("--backoff-base", type=float, default=0.5)
    args = parser.parse_args(argv)
    now = datetime.fromisoformat(args.now)
    settings = resolve_settings(**json.loads(os.environ["SOAK_SETTINGS"]))
    run_job(
        make_pipeline(duckdb_path=args.duckdb),
        settings,
        as_of=now,
        now=lambda: now,
        client_options={"backoff_base": args.backoff_base},
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m bench soak [--size medium] [--days 60]``: the long variant, figures recorded."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        return worker(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    parser.add_argument("--size", default="medium")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--bookings-per-day", type=int, default=None)
    parser.add_argument(
        "--burst-every", type=int, default=150, help="requests between 429 bursts (CI: 300)"
    )
    parser.add_argument("--kill-every", type=int, default=11, help="days between killed runs")
    parser.add_argument("--folder", type=Path, default=None, help="default: a temp folder")
    parser.add_argument(
        "--output", type=Path, default=None, help="default: bench/results/soak_<size>.json"
    )
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="soak-") as temp:
        config = SoakConfig(
            size=args.size,
            days=args.days,
            seed=args.seed,
            bookings_per_day=args.bookings_per_day,
            kill_every=args.kill_every,
            folder=args.folder or Path(temp),
        )
        faults = replace(config.faults, seed=args.seed, burst_every=args.burst_every)
        config = replace(config, faults=faults)
        report = Soak(config).run()
    for line in report.lines():
        print(line)
    output = args.output or RESULTS / f"soak_{args.size}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    document = report.as_dict()
    document["recorded_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"figures: {output}")
    return 0 if report.diverged == 0 and not report.failed_runs else 1


if __name__ == "__main__":
    raise SystemExit(main())
