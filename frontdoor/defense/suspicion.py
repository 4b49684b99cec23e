"""Whether the door is under attack, and who then looks like a script: decided by this door alone from
what it has seen, with no Redis and no RabbitMQ work.

Challenges are for attacks only: in normal operation nobody sees one (a citizen submitting 500 times a
minute meets the SPEC's per-citizen limit, a 429, not a puzzle). The door is under attack when, over the
last 10 s, most token verifications failed (forged, expired, foreign tokens: at least 200 failures), or
at least 200 unverified requests came from addresses or networks past their allowance (a flood when no
tokens are checked). Then:

- a verified citizen (a token subject) is challenged only past its allowance, ``challenge_after`` a
  minute: a citizen submits a few times, a script with a stolen or replayed token many. Within it a
  verified citizen never sees a challenge;
- an unverified client (``AUTH_REQUIRED=false`` without a gateway's subject) is always challenged, the
  harder the further past its address's or network's allowance (/24 for IPv4, /56 for IPv6: a script
  rotating addresses within its provider's block still shares one).

One exception holds at all times: one token used from more than ``NETWORKS_PER_SUBJECT`` networks
within a minute is a replayed token (a citizen's phone and home do not rotate through address blocks),
and it is challenged on every request from its third network on, attack or not. (Every request of one
test client comes from one network; a citizen moving between networks solves one challenge.)

Each doubling past the allowance adds a zero bit to the challenge, so a script's cost per request grows
with its rate, while a citizen who strays past its allowance pays about a second once. The counts are
this door's: behind a load balancer spreading clients over N doors a client's allowance is up to N times
larger, which only delays its first challenge.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_SECONDS = 60.0
# Keys counted per window at most: past it (a flood of rotating addresses) an uncounted unverified
# client is treated as past its allowance, so the bound cannot be used to hide.
MAX_KEYS = 500_000
ATTACK_FAILURE_SHARE = 0.5
# Sustained, not a test's or a client's burst: 20 a second over the 10 s the door looks back.
ATTACK_MIN_FAILURES = 200
ATTACK_MIN_FLOOD = 200
HISTORY_SECONDS = 10
NETWORKS_PER_SUBJECT = 2


class SlidingMinute:
    """Counts per key over about the last minute: this minute's count plus the previous minute's,
    weighted by the part of it still inside the last 60 s (the sliding-window counter of rate limiters):
    constant memory per key, no timestamps kept."""

    def __init__(self, now: float) -> None:
        self._started = now
        self._current: dict[str, int] = {}
        self._previous: dict[str, int] = {}
        self.full = False

    def add(self, key: str, now: float) -> float:
        """Count one for ``key``; its count over the last minute (this one included)."""
        self._rotate(now)
        current = self._current.get(key)
        if current is None:
            if len(self._current) >= MAX_KEYS:
                self.full = True
                return math.inf
            current = 0
        self._current[key] = current + 1
        return self._estimate(key, current + 1, now)

    def _estimate(self, key: str, current: int, now: float) -> float:
        left = max(0.0, 1.0 - (now - self._started) / WINDOW_SECONDS)
        return current + self._previous.get(key, 0) * left

    def _rotate(self, now: float) -> None:
        elapsed = now - self._started
        if elapsed < WINDOW_SECONDS:
            return
        self._previous = self._current if elapsed < 2 * WINDOW_SECONDS else {}
        self._current = {}
        self._started = now - elapsed % WINDOW_SECONDS
        self.full = False


def network_of(address: str) -> str:
    """The /24 (IPv4) or /56 (IPv6) an address lies in; the text itself when it is no address."""
    parts = address.split(".")
    # IPv4 by hand: ``ipaddress`` took a quarter of a challenged request's time.
    if len(parts) == 4 and all(p.isdigit() and str(int(p)) == p and int(p) <= 255 for p in parts):
        return f"{parts[0]}.{parts[1]}.{parts[2]}.0/24"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    prefix = 24 if ip.version == 4 else 56
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass
class Suspicion:
    challenge_after: float  # a verified subject's submissions a minute before it is challenged
    per_address: float  # an unverified client's, per address
    per_network: float  # and per network
    base_difficulty: int
    max_difficulty: int
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _subjects: SlidingMinute = field(init=False)
    _addresses: SlidingMinute = field(init=False)
    _networks: SlidingMinute = field(init=False)
    # The networks each subject came from this minute (at most NETWORKS_PER_SUBJECT + 1 kept each)
    _subject_networks: dict[str, set[str]] = field(init=False, default_factory=dict)
    _subject_networks_since: float = field(init=False, default=0.0)
    # Per second of the last HISTORY_SECONDS: [second, verifications, failures, unverified past allowance]
    _seconds: deque[list[int]] = field(init=False)
    _level: int = field(init=False, default=0)
    _level_at: float = field(init=False, default=-1e9)

    def __post_init__(self) -> None:
        now = self._now()
        self._subjects = SlidingMinute(now)
        self._addresses = SlidingMinute(now)
        self._networks = SlidingMinute(now)
        self._seconds = deque(maxlen=HISTORY_SECONDS)

    def _now(self) -> float:
        return self.clock()

    def _this_second(self) -> list[int]:
        second = int(self._now())
        if not self._seconds or self._seconds[-1][0] != second:
            self._seconds.append([second, 0, 0, 0])
        return self._seconds[-1]

    def verified(self, ok: bool) -> None:
        """Count one token verification, good or failed."""
        entry = self._this_second()
        entry[1] += 1
        entry[2] += not ok

    @property
    def under_attack(self) -> bool:
        return self.attack_level() > 0

    def attack_level(self) -> int:
        """0 when not under attack; else 1, plus one for each doubling of the attack past its threshold
        (a challenge's extra zero bits: the difficulty rises with the attack's load). Worked out at most
        ten times a second: every request asks."""
        now_exact = self._now()
        if now_exact - self._level_at < 0.1:
            return self._level
        self._level_at = now_exact
        self._level = self._work_out_level(int(now_exact))
        return self._level

    def _work_out_level(self, now: int) -> int:
        recent = [e for e in self._seconds if now - e[0] < HISTORY_SECONDS]
        verifications = sum(e[1] for e in recent)
        failures = sum(e[2] for e in recent)
        flood = sum(e[3] for e in recent)
        strength = max(
            failures / ATTACK_MIN_FAILURES if failures >= ATTACK_FAILURE_SHARE * verifications else 0.0,
            flood / ATTACK_MIN_FLOOD,
        )
        return 0 if strength < 1.0 else 1 + int(math.log2(strength))

    def _spread(self, subject: str, network: str, now: float) -> int:
        """How many networks ``subject`` came from this minute (counting up to one past the bound)."""
        if now - self._subject_networks_since >= WINDOW_SECONDS or len(self._subject_networks) >= MAX_KEYS:
            self._subject_networks = {}
            self._subject_networks_since = now
        seen = self._subject_networks.setdefault(subject, set())
        if len(seen) <= NETWORKS_PER_SUBJECT:
            seen.add(network)
        return len(seen)

    def difficulty_for(self, subject: str | None, address: str, network: str | None = None) -> int | None:
        """Count this request (from ``address``, in ``network``: ``network_of(address)`` when not
        given); the zero bits of the challenge its client must solve, or None."""
        now = self._now()
        network = network or network_of(address)
        replayed = False
        if subject is not None:
            over = self._subjects.add(subject, now) / self.challenge_after
            replayed = self._spread(subject, network, now) > NETWORKS_PER_SUBJECT
        else:
            over = max(
                self._addresses.add(address, now) / self.per_address,
                self._networks.add(network, now) / self.per_network,
            )
            if over > 1.0:
                self._this_second()[3] += 1
        level = self.attack_level()
        if replayed:
            over = max(over, 2.0)
        elif level == 0:
            return None
        if subject is None:
            over = max(over, 1.0)  # under attack every unverified client pays something
        elif over <= 1.0:
            return None
        extra = 0 if math.isinf(over) else int(math.log2(over))
        return min(self.max_difficulty, self.base_difficulty + extra + max(0, level - 1))
