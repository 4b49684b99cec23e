"""The peak-day load: who comes to the portal and how, for locust (``python -m bench`` drives it).

Users (pick them by class name on locust's command line):
- ``Citizen``: submits at a steady pace, then polls its ticket in the background as the server's
  ``poll_after_seconds`` hint says; when shed it waits the ``Retry-After`` it was given.
- ``Enterprise``: posts bulk batches with an operator-issued key and polls the batch status.
- ``StatusReader``: only reads tickets other citizens were given.
- ``ScriptAttacker``: malformed bodies, forged ticket IDs, and one resident ID at a high rate without
  its token.
- ``Submitter``: the raw-throughput client, a submission after another with no pause.

Shapes (``BENCH_SHAPE``): ``working_day`` (a day compressed into the run, peaks 09:00-11:00 and
14:00-17:00), ``policy_day`` (a surge to ``BENCH_SURGE`` times capacity), ``step`` (1x, 2x, 5x, 10x
capacity, equal steps), and ``constant`` (``BENCH_USERS`` users throughout).

Every submission's outcome is reported as its own locust entry of type ``outcome`` (``accepted``,
``repeat``, ``shed``, ``limited``, ``unavailable``, ``rejected``, ``error``, ``no answer``), and every
citizen's arrival as ``arrival``, so the history CSV carries
accepted/s and shed/s by reason. Ticket IDs from 202s are appended to ``$BENCH_TICKETS_DIR/<pid>.txt``
for the accounting.

Citizens carry their tokens from the identity provider: the pool in the file ``BENCH_TOKENS_FILE``
names (``bench.citizen_tokens``; the harness writes it, or ``python -m bench.citizen_tokens FILE``).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import gevent
from locust import LoadTestShape, constant, constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpUser

from bench import citizen_tokens
from bench.submissions import submission
from queue_config.resident_id import make as make_resident_id

CAPACITY = float(os.environ.get("BENCH_CAPACITY", "10"))  # submissions a second the core can finish
DURATION = float(os.environ.get("BENCH_DURATION", "60"))  # seconds the shape lasts
SURGE = float(os.environ.get("BENCH_SURGE", "20"))  # policy day: times capacity at the surge's top
USERS = int(os.environ.get("BENCH_USERS", "100"))  # constant shape
SPAWN_RATE = float(os.environ.get("BENCH_SPAWN_RATE", "200"))
# A day of waiting is compressed like the day itself: hints and Retry-After are scaled by this factor.
TIME_SCALE = float(os.environ.get("BENCH_TIME_SCALE", "1"))
STATUS_URL = os.environ.get("BENCH_STATUS_URL", "")
ENTERPRISE_KEY = os.environ.get("BENCH_ENTERPRISE_KEY", "")
BULK_ITEMS = int(os.environ.get("BENCH_BULK_ITEMS", "200"))
MAX_POLLS = int(os.environ.get("BENCH_MAX_POLLS", "5"))
SEED_BASE = int(os.environ.get("BENCH_SEED_BASE", "0"))
# Users of the fixed-count classes taking part (readers, attacker, enterprise): added to the citizens.
FIXED_USERS = int(os.environ.get("BENCH_FIXED_USERS", "0"))

_seeds = itertools.count(SEED_BASE + os.getpid() % 1000 * 1_000_000)
if not os.environ.get(citizen_tokens.TOKENS_FILE_ENV):
    raise SystemExit(
        "BENCH_TOKENS_FILE must name the citizens' tokens: python -m bench.citizen_tokens FILE writes them"
    )
_tokens = citizen_tokens.read(Path(os.environ[citizen_tokens.TOKENS_FILE_ENV]))
_issued: list[str] = []  # ticket IDs this process was given, for the status readers
_tickets_file: Any = None


def _record_ticket(ticket_id: str) -> None:
    global _tickets_file
    directory = os.environ.get("BENCH_TICKETS_DIR")
    if not directory:
        return
    if _tickets_file is None:
        _tickets_file = open(os.path.join(directory, f"{os.getpid()}.txt"), "a", encoding="ascii")  # noqa: SIM115
    _tickets_file.write(ticket_id + "\n")


@events.quitting.add_listener
def _close_tickets(**_: Any) -> None:
    if _tickets_file is not None:
        _tickets_file.close()


def _outcome(status: int, body: bytes | None) -> str:
    if status == 0:
        return "no answer"  # timed out or the connection failed: what a citizen at a collapsing portal gets
    if status == 202:
        return "accepted"
    if status == 200:
        return "repeat"
    if status == 429:
        return "limited"
    if status == 503:
        try:
            error = json.loads(body or b"{}").get("error")
        except ValueError:
            error = None
        return "shed" if error == "shedding" else "unavailable"
    return "rejected" if 400 <= status < 500 else "error"


def _report(name: str, started: float, request_type: str = "outcome") -> None:
    events.request.fire(
        request_type=request_type,
        name=name,
        response_time=(time.perf_counter() - started) * 1000,
        response_length=0,
        exception=None,
        context={},
    )


class _Submitting(FastHttpUser):
    abstract = True
    # Requests one user may have open at once (its connection pool): an open-loop citizen stream
    # against a portal that hangs piles up to this many connections per user.
    concurrency = 20
    network_timeout = 30.0  # a citizen gives up after half a minute

    def submit(self) -> tuple[dict[str, Any] | None, float]:
        """One submission: the 202/200 body or None, and the Retry-After of a refusal (the outcome is
        reported either way)."""
        started = time.perf_counter()
        body = submission(next(_seeds))
        auth = citizen_tokens.header(_tokens, body["citizen_id"])
        with self.client.post(
            "/v1/submissions", json=body, headers=auth, name="submit", catch_response=True
        ) as response:
            outcome = _outcome(response.status_code, response.content)
            # A shed or a limit is the system working as promised, not a failed request.
            if outcome in ("accepted", "repeat", "shed", "limited"):
                response.success()
            else:
                response.failure(f"{response.status_code}")
            _report(outcome, started)
            if outcome in ("accepted", "repeat"):
                doc: dict[str, Any] = response.json()
                doc["_auth"] = auth  # the citizen's token, to read its ticket with
                if outcome == "accepted":
                    _record_ticket(doc["ticket_id"])
                    _issued.append(doc["ticket_id"])
                    del _issued[:-10_000]
                return doc, 0.0
            if outcome in ("shed", "limited"):
                return None, float(response.headers.get("Retry-After") or 1) * TIME_SCALE
            return None, 0.0


class Citizen(_Submitting):
    """A stream of citizens, one a second, arriving whether or not the portal has answered the ones
    before (open loop: a slow portal does not slow the arrivals, as it does not at a real peak). Each
    follows its ticket as the server hints, or, when shed, retries once after its Retry-After."""

    wait_time = constant_throughput(1)  # arrivals: users x 1/s is the offered load

    @task
    def arrive(self) -> None:
        _report("citizen", time.perf_counter(), request_type="arrival")
        gevent.spawn(self._citizen)

    def _citizen(self) -> None:
        doc, retry_after = self.submit()
        if doc is None and 0 < retry_after <= 60.0:
            gevent.sleep(retry_after)
            doc, _ = self.submit()
        if doc is not None and "status_url" in doc:
            self._follow(doc["status_url"], float(doc.get("eta_seconds") or 1), doc["_auth"])

    def _follow(self, status_url: str, first_wait: float, auth: dict[str, str]) -> None:
        """Polls as the server asks: its hint, scaled to the compressed day, a few times at most."""
        wait = first_wait
        for _ in range(MAX_POLLS):
            gevent.sleep(min(max(wait * TIME_SCALE, 0.2), 30.0))
            # With its token: the owner sees the result of a done ticket
            with self.client.get(status_url, headers=auth, name="poll", catch_response=True) as response:
                if response.status_code != 200:
                    response.failure(str(response.status_code))
                    return
                doc = response.json()
                if doc["status"] in ("done", "failed"):
                    return
                wait = float(doc.get("poll_after_seconds") or 1)


class Submitter(_Submitting):
    wait_time = constant(0)

    @task
    def submit_only(self) -> None:
        self.submit()


class Enterprise(FastHttpUser):
    fixed_count = 1
    wait_time = constant(max(5.0, 30.0 * TIME_SCALE))

    @task
    def post_batch(self) -> None:
        items = [submission(next(_seeds)) for _ in range(BULK_ITEMS)]
        with self.client.post(
            "/v1/bulk",
            data=json.dumps({"items": items}),
            headers={"Authorization": f"Bearer {ENTERPRISE_KEY}", "Content-Type": "application/json"},
            name="bulk",
            catch_response=True,
        ) as response:
            if response.status_code not in (200, 202):
                response.failure(str(response.status_code))
                return
            doc = response.json()
        for ticket_id in doc["tickets"]:
            if ticket_id:
                _record_ticket(ticket_id)
        status_url = doc["status_url"]
        for _ in range(MAX_POLLS):
            gevent.sleep(max(2.0, 10.0 * TIME_SCALE))
            with self.client.get(
                status_url,
                headers={"Authorization": f"Bearer {ENTERPRISE_KEY}"},
                name="batch status",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    response.failure(str(response.status_code))
                    return
                if set(response.json()["counts"]) <= {"done", "failed"}:
                    return


class StatusReader(FastHttpUser):
    fixed_count = 2
    wait_time = constant_throughput(2)

    @task
    def read(self) -> None:
        if not _issued or not STATUS_URL:
            return
        ticket_id = random.choice(_issued)
        with self.client.get(f"{STATUS_URL}/v1/tickets/{ticket_id}", name="read", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(str(r.status_code))


class ScriptAttacker(FastHttpUser):
    """Every answer it gets must be a quick 4xx; a 5xx is a failure."""

    fixed_count = 1
    wait_time = constant_throughput(20)
    _one_id = make_resident_id(999_999)

    def _expect_4xx(self, response: Any) -> None:
        if 400 <= response.status_code < 500:
            response.success()
        else:
            response.failure(f"expected a 4xx, got {response.status_code}")

    @task(3)
    def malformed(self) -> None:
        body = random.choice(["{not json", "[]", '{"kind": "lottery"}', "\ufeff\x00"])
        with self.client.post(
            "/v1/submissions",
            data=body,
            headers={"Content-Type": "application/json"},
            name="attack: malformed",
            catch_response=True,
        ) as response:
            self._expect_4xx(response)

    @task(2)
    def forged(self) -> None:
        if not STATUS_URL:
            return
        forged = "".join(random.choices("abcdefghijklmnopqrstuvwxyz234567", k=42))
        with self.client.get(
            f"{STATUS_URL}/v1/tickets/{forged}", name="attack: forged ticket", catch_response=True
        ) as response:
            self._expect_4xx(response)

    @task(5)
    def one_resident(self) -> None:
        doc = submission(next(_seeds))
        doc["citizen_id"] = self._one_id
        with self.client.post(
            "/v1/submissions", json=doc, name="attack: one resident", catch_response=True
        ) as response:
            if response.status_code in (401, 429, 503):
                response.success()  # no token: refused before any Redis or RabbitMQ work
            else:
                response.failure(str(response.status_code))


# --- shapes: (users, spawn rate) over time ----------------------------------------------------------
def _working_day(hour: float) -> float:
    """Offered load as a share of capacity through a working day."""
    if 9 <= hour < 11:
        return 3.0
    if 14 <= hour < 17:
        return 2.5
    if 8 <= hour < 9 or 11 <= hour < 14 or 17 <= hour < 19:
        return 0.8
    return 0.1


def _policy_day(share: float) -> float:
    if share < 0.1:
        return 0.5
    if share < 0.4:
        return SURGE
    return max(1.0, SURGE * (1 - (share - 0.4) / 0.6) ** 2)


def _step(share: float) -> float:
    return (1.0, 2.0, 5.0, 10.0)[min(3, int(share * 4))]


def load_multiple(shape: str, share: float) -> float:
    """Times capacity offered at ``share`` (0..1) of the run."""
    if shape == "working_day":
        return _working_day(share * 24)
    if shape == "policy_day":
        return _policy_day(share)
    if shape == "step":
        return _step(share)
    raise ValueError(f"unknown shape {shape!r}")


class Shape(LoadTestShape):
    """The ``BENCH_SHAPE`` profile: citizens at one submission a second each, so citizens = load; the
    fixed-count users (readers, the attacker, the enterprise) come on top."""

    def tick(self) -> tuple[int, float] | None:
        elapsed: float = self.get_run_time()
        if elapsed >= DURATION:
            return None
        shape = os.environ.get("BENCH_SHAPE", "step")
        if shape == "constant":
            return USERS, SPAWN_RATE
        users = max(1, round(load_multiple(shape, elapsed / DURATION) * CAPACITY))
        return users + FIXED_USERS, SPAWN_RATE
