"""Running the attack scenario and the refusal-cost phases against one ticketgate (issue 18).

- **Refusal costs**: closed-loop phases of one kind of request each (accepted, no token, expired token,
  forged token, challenged, shed), the front door's CPU divided by the requests: what a refusal costs
  the door next to an accepted submission.
- **Scenario**: open loop (Poisson) at ``surge`` times the core's capacity, ``script_share`` of it
  scripts (``crowd.SCRIPT_MIX``) and the rest real citizens; citizens solve a challenge when given one
  (as the portal page's JavaScript would), scripts do not. Then the scripts alone at their rate, for the
  door's CPU per attack request.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import orjson
import psutil
from cryptography.hazmat.primitives.asymmetric import rsa

from bench import citizen_tokens
from bench.attack.crowd import PROOF_HEADER, STOLEN_TOKENS, Crowd, Sender, citizen_address, victim
from bench.harness import targets
from bench.submissions import submission
from frontdoor.defense.proof_of_work import solve
from queue_config.kinds import KINDS

AUTH = {"Authorization": f"Bearer {targets.OPERATOR_TOKEN}"}


def outcome(status: int, doc: Any) -> str:
    error = doc.get("error") if isinstance(doc, dict) else None
    if status == 429 and error == "challenge_required":
        return "429 challenge"
    return f"{status} {error}" if error else str(status)


@dataclass
class Tally:
    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    accept_ms: list[float] = field(default_factory=list)  # sent to 202, a challenge solved included
    solve_ms: list[float] = field(default_factory=list)


@dataclass
class ScenarioResult:
    auth: bool
    seconds: float
    offered_per_second: float
    capacity_per_second: float
    by_sender: dict[Sender, Tally]
    idle_cpu_per_second: float = 0.0
    attack_only_requests: int = 0
    attack_only_door_cpu: float = 0.0
    door_cpu_seconds: float = 0.0


def door_cpu(running: targets.Running, role: str = "front door") -> float:
    total = 0.0
    for pid in running.server_pids[role]:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


async def idle_cpu_per_second(
    running: targets.Running, seconds: float = 5.0, role: str = "front door"
) -> float:
    """What the door spends with no requests (controller, forecast, metrics, timers): subtracted from
    each phase, so that its figure is per request and not per second."""
    before = door_cpu(running, role)
    await asyncio.sleep(seconds)
    return (door_cpu(running, role) - before) / seconds


async def scripts_alone(
    running: targets.Running,
    http: aiohttp.ClientSession,
    material: dict[str, list[tuple[str, str]]],
    *,
    rate: float,
    seconds: float,
    role: str,
    idle: float,
    rng: random.Random,
) -> tuple[int, float]:
    """Only the scripts' requests, open loop at ``rate``: requests sent, and the CPU seconds ``role``
    spent on them (its ``idle`` CPU a second subtracted)."""
    tokens = citizen_tokens.read(running.layout.tokens_file)
    crowd = Crowd(
        tokens, material["expired"], material["stolen"], material["forged"], 1.0, rng, seed=950_000_000
    )
    url = running.layout.front_url + "/v1/submissions"
    spare = Tally()

    def next_script() -> Coroutine[Any, Any, None]:
        _, body, headers = crowd.next()
        spare.sent += 1
        return _script(http, url, body, headers, spare)

    cpu, began = door_cpu(running, role), time.perf_counter()
    await _open_loop(rate, seconds, next_script, rng)
    return spare.sent, door_cpu(running, role) - cpu - idle * (time.perf_counter() - began)


async def http_floor(
    running: targets.Running, http: aiohttp.ClientSession, rate: float, seconds: float, seed: int = 19
) -> tuple[int, float]:
    """The scripts' requests at ``rate`` against a bare aiohttp handler (``BARE_HTTP``): requests sent
    and the handler's CPU seconds for them, the HTTP floor under a refusal at that rate."""
    material = await stolen_material(http, running.layout.idp_url, victims_from=20_000)
    idle = await idle_cpu_per_second(running, role="server")
    return await scripts_alone(
        running, http, material, rate=rate, seconds=seconds, role="server", idle=idle, rng=random.Random(seed)
    )


async def stolen_material(
    http: aiohttp.ClientSession, idp_url: str, victims_from: int = 0
) -> dict[str, list[tuple[str, str]]]:
    """What the scripts hold: expired and still-valid tokens of victims, and forged ones."""
    victims = [victim(victims_from + n) for n in range(200)]
    expired = []
    for sub in victims[:100]:
        async with http.post(idp_url + "/v1/tokens", json={"sub": sub, "ttl_seconds": -3600}) as r:
            expired.append((sub, (await r.json())["access_token"]))
    stolen = list((await citizen_tokens.mint(http, idp_url, victims[100 : 100 + STOLEN_TOKENS])).items())
    async with http.get(idp_url + "/.well-known/jwks.json") as r:
        kid = (await r.json())["keys"][0]["kid"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = []
    for sub in victims[150:200]:
        claims = {"iss": idp_url, "sub": sub, "aud": "ticketgate", "exp": int(time.time()) + 3600}
        forged.append((sub, jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})))
    return {"expired": expired, "stolen": stolen, "forged": forged}


async def _post(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[int, Any]:
    async with http.post(
        url, data=orjson.dumps(body), headers={"Content-Type": "application/json", **headers}
    ) as r:
        return r.status, await r.json(content_type=None)


async def _citizen(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str], tally: Tally
) -> None:
    started = time.perf_counter()
    status, doc = await _post(http, url, body, headers)
    if outcome(status, doc) == "429 challenge":
        tally.outcomes["challenged"] += 1
        solving = time.perf_counter()
        proof = await asyncio.to_thread(solve, doc["challenge"])
        tally.solve_ms.append((time.perf_counter() - solving) * 1000)
        status, doc = await _post(http, url, body, {**headers, PROOF_HEADER: proof})
    tally.outcomes[outcome(status, doc)] += 1
    if status == 202:
        tally.accept_ms.append((time.perf_counter() - started) * 1000)


async def _script(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str], tally: Tally
) -> None:
    status, doc = await _post(http, url, body, headers)
    tally.outcomes[outcome(status, doc)] += 1


async def _open_loop(
    rate: float, seconds: float, make: Callable[[], Coroutine[Any, Any, None]], rng: random.Random
) -> None:
    tasks: set[asyncio.Task[None]] = set()
    began = time.perf_counter()
    due = began
    while due - began < seconds:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        task = asyncio.create_task(make())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        due += rng.expovariate(rate)
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


async def scenario(
    running: targets.Running,
    http: aiohttp.ClientSession,
    *,
    auth: bool,
    seconds: float,
    surge: float,
    capacity: float,
    script_share: float,
    seed: int = 18,
) -> ScenarioResult:
    layout = running.layout
    url = layout.front_url + "/v1/submissions"
    tokens = citizen_tokens.read(layout.tokens_file)
    # Victims of their own: the door has seen none of their tokens yet (not in the refusal phases)
    material = await stolen_material(http, layout.idp_url, victims_from=10_000)
    rng = random.Random(seed)
    crowd = Crowd(tokens, material["expired"], material["stolen"], material["forged"], script_share, rng)
    result = ScenarioResult(auth, seconds, surge * capacity, capacity, {s: Tally() for s in Sender})

    def next_request() -> Coroutine[Any, Any, None]:
        sender, body, headers = crowd.next()
        tally = result.by_sender[sender]
        tally.sent += 1
        if sender is Sender.CITIZEN:
            return _citizen(http, url, body, headers, tally)
        return _script(http, url, body, headers, tally)

    result.idle_cpu_per_second = idle = await idle_cpu_per_second(running)
    cpu, began = door_cpu(running), time.perf_counter()
    await _open_loop(surge * capacity, seconds, next_request, rng)
    result.door_cpu_seconds = door_cpu(running) - cpu - idle * (time.perf_counter() - began)

    # The scripts alone, at their rate in the scenario: the door's CPU per attack request
    result.attack_only_requests, result.attack_only_door_cpu = await scripts_alone(
        running,
        http,
        material,
        rate=surge * capacity * script_share,
        seconds=min(20.0, seconds),
        role="front door",
        idle=idle,
        rng=rng,
    )
    return result


@dataclass
class Phase:
    name: str
    requests: int
    door_cpu_seconds: float
    outcomes: Counter[str]

    @property
    def microseconds(self) -> float:
        return self.door_cpu_seconds / max(1, self.requests) * 1e6


async def _closed_loop(
    n: int, concurrency: int, make: Callable[[int], Awaitable[tuple[int, Any]]]
) -> Counter[str]:
    counts: Counter[str] = Counter()
    numbers = iter(range(n))

    async def user() -> None:
        for i in numbers:
            status, doc = await make(i)
            counts[outcome(status, doc)] += 1

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return counts


async def refusal_costs(
    running: targets.Running, http: aiohttp.ClientSession, n: int, concurrency: int = 16
) -> list[Phase]:
    """The door's CPU per request of each kind, accepted first (the unit), each in a phase of its own."""
    layout = running.layout
    url = layout.front_url + "/v1/submissions"
    tokens = citizen_tokens.read(layout.tokens_file)
    material = await stolen_material(http, layout.idp_url)
    wide = {"mode": "manual", "rates": dict.fromkeys(KINDS, 1e6)}
    async with http.put(layout.front_url + "/v1/admin/throttle", json=wide, headers=AUTH) as r:
        r.raise_for_status()
    await asyncio.sleep(1.5)

    def citizen(i: int) -> tuple[dict[str, Any], dict[str, str]]:
        body = submission(800_000_000 + i)
        sub = body["citizen_id"]
        return body, {"Authorization": f"Bearer {tokens[sub]}", "X-Forwarded-For": citizen_address(sub)}

    def stolen(i: int, kind: str) -> tuple[dict[str, Any], dict[str, str]]:
        sub, token = material[kind][i % len(material[kind])]
        body = {**submission(810_000_000 + i), "citizen_id": sub}
        # Rotating over networks, as a script replaying a stolen token through a proxy service does
        address = f"172.{16 + i // 7 % 20}.0.{1 + i % 250}"
        return body, {"Authorization": f"Bearer {token}", "X-Forwarded-For": address}

    def no_token(i: int) -> tuple[dict[str, Any], dict[str, str]]:
        body = {**submission(820_000_000 + i), "citizen_id": victim(300 + i % 1000)}
        return body, {"X-Forwarded-For": f"172.17.0.{1 + i % 250}"}

    phases: list[tuple[str, Callable[[int], tuple[dict[str, Any], dict[str, str]]]]] = [
        ("accepted (202)", citizen),
        ("no token (401)", no_token),
        ("expired token (401)", lambda i: stolen(i, "expired")),
        ("forged signature (401)", lambda i: stolen(i, "forged")),
        # A stolen token seen from a third network is challenged on every request
        ("replayed token from rotating networks (429 challenge)", lambda i: stolen(i, "stolen")),
    ]
    idle = await idle_cpu_per_second(running)
    out = []

    async def measure(name: str, make: Callable[[int], tuple[dict[str, Any], dict[str, str]]]) -> None:
        async def send(i: int) -> tuple[int, Any]:
            body, headers = make(i)
            return await _post(http, url, body, headers)

        async def untimed(i: int) -> tuple[int, Any]:
            return await send(n + i)

        # Untimed first: the door's caches filled, the stolen tokens seen on several networks
        await _closed_loop(200, concurrency, untimed)
        cpu, began = door_cpu(running), time.perf_counter()
        outcomes = await _closed_loop(n, concurrency, send)
        used = door_cpu(running) - cpu - idle * (time.perf_counter() - began)
        out.append(Phase(name, n, used, outcomes))

    for name, make in phases:
        await measure(name, make)
    # Shed: the kinds closed by the operator (the door remembers the refusal for a second: no Redis)
    closed = {"mode": "manual", "rates": dict.fromkeys(KINDS, 0)}
    async with http.put(layout.front_url + "/v1/admin/throttle", json=closed, headers=AUTH) as r:
        r.raise_for_status()
    await asyncio.sleep(1.5)
    await measure("shed (503)", lambda i: citizen(3 * n + i))
    auto = {"mode": "auto", "rates": dict.fromkeys(KINDS)}
    async with http.put(layout.front_url + "/v1/admin/throttle", json=auto, headers=AUTH) as r:
        r.raise_for_status()
    return out
