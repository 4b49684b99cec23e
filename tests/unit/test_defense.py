"""Proof-of-work challenges and the door's suspicion of clients (``frontdoor.defense``), on a fake clock."""

from __future__ import annotations

import hashlib
import math
import shutil
import subprocess

import pytest

from frontdoor.defense import suspicion as suspicion_module
from frontdoor.defense.proof_of_work import ProofOfWork, Solved, leading_zero_bits, solve
from frontdoor.defense.suspicion import SlidingMinute, Suspicion, network_of

BINDING = "203.0.113.0/24|110101198001010010"


def test_a_solved_challenge_checks_out_for_its_client_only() -> None:
    pow_ = ProofOfWork(b"k" * 32)
    challenge = pow_.issue(BINDING, 8, now=1000.0)
    proof = solve(challenge)
    assert leading_zero_bits(hashlib.sha256(proof.encode()).digest()) >= 8
    solved = pow_.check(proof, BINDING, 8, now=1001.0)
    assert isinstance(solved, Solved) and solved.expires_at > 1001.0
    # Another client (network or subject), another door's key, too late, or a nonce that does not solve
    assert "not a challenge of ours" in str(pow_.check(proof, "198.51.100.0/24|110101198001010010", 8))
    assert "not a challenge of ours" in str(ProofOfWork(b"x" * 32).check(proof, BINDING, 8, now=1001.0))
    assert "expired" in str(pow_.check(proof, BINDING, 8, now=1000.0 + 3600))
    unsolved = (
        challenge
        + ":"
        + next(
            f"{n:x}"
            for n in range(10_000)
            if leading_zero_bits(hashlib.sha256(f"{challenge}:{n:x}".encode()).digest()) < 8
        )
    )
    assert "does not solve" in str(pow_.check(unsolved, BINDING, 8, now=1001.0))
    assert "malformed" in str(pow_.check("garbage", BINDING, 8))


def test_a_challenge_whose_difficulty_was_lowered_is_refused() -> None:
    pow_ = ProofOfWork(b"k" * 32)
    expires, _, salt, mac = pow_.issue(BINDING, 12, now=1000.0).split(".")
    easier = solve(f"{expires}.1.{salt}.{mac}")
    assert "not a challenge of ours" in str(pow_.check(easier, BINDING, 1, now=1001.0))
    # And one of ours that is easier than the door's minimum now
    weak = solve(pow_.issue(BINDING, 4, now=1000.0))
    assert "easier" in str(pow_.check(weak, BINDING, 8, now=1001.0))


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_pages_javascript_solver_finds_proofs_the_door_accepts() -> None:
    pow_ = ProofOfWork(b"k" * 32)
    challenge = pow_.issue(BINDING, 10)
    script = (
        "require('./frontdoor/defense/solver.js');"
        f"process.stdout.write(globalThis.ticketgateProof.solve('{challenge}', 10))"
    )
    proof = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout
    assert isinstance(pow_.check(proof, BINDING, 10), Solved)


def test_the_sliding_minute_weighs_the_previous_minute_by_what_is_left_of_it() -> None:
    window = SlidingMinute(0.0)
    for _ in range(60):
        window.add("a", 10.0)
    assert window.add("a", 30.0) == 61
    # 15 s into the next minute: a quarter of the previous one has slid out
    assert window.add("a", 75.0) == pytest.approx(1 + 61 * 0.75)
    assert window.add("a", 200.0) == 1  # two minutes later: all forgotten


def test_networks_are_the_ipv4_slash_24_and_the_ipv6_slash_56() -> None:
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:1234:5678::1") == "2001:db8:1234:5600::/56"
    assert network_of("unknown") == "unknown"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _suspicion(clock: Clock) -> Suspicion:
    return Suspicion(
        challenge_after=10,
        per_address=60,
        per_network=600,
        base_difficulty=16,
        max_difficulty=24,
        clock=clock,
    )


def _attack(s: Suspicion, clock: Clock, failures: int = 200) -> None:
    for _ in range(failures):
        clock.now += 5.0 / failures
        s.verified(False)
    assert s.under_attack


def test_no_one_is_challenged_while_the_door_is_not_under_attack() -> None:
    clock = Clock()
    s = _suspicion(clock)
    # A citizen at the SPEC's limit (500 a minute), and a flood from one unverified address
    assert all(s.difficulty_for("110101198001010010", "203.0.113.7") is None for _ in range(500))
    assert all(s.difficulty_for(None, "203.0.113.7") is None for _ in range(150))
    # Failures that are a minority of verifications are no attack either
    for _ in range(300):
        s.verified(True)
        s.verified(True)
        s.verified(False)
    assert not s.under_attack


def test_under_attack_a_verified_citizen_within_its_allowance_is_never_challenged() -> None:
    clock = Clock()
    s = _suspicion(clock)
    _attack(s, clock)
    citizen = "110101198001010010"
    assert [s.difficulty_for(citizen, "203.0.113.7") for _ in range(10)] == [None] * 10
    # Past it: challenged, harder with each doubling of its rate, never past the maximum
    assert s.difficulty_for(citizen, "203.0.113.7") == 16
    bits = [s.difficulty_for(citizen, "203.0.113.7") for _ in range(2000)]
    assert bits[-1] == 16 + int(math.log2(2011 / 10)) <= 24
    assert None not in bits
    assert bits == sorted(b for b in bits if b is not None)  # never easier as it goes on


def test_under_attack_every_unverified_client_pays_and_a_stronger_attack_costs_more() -> None:
    clock = Clock()
    s = _suspicion(clock)
    _attack(s, clock)
    assert s.difficulty_for(None, "198.51.100.1") == 16
    _attack(s, clock, failures=800)  # four times the threshold within the 10 s
    assert s.attack_level() == 3
    assert s.difficulty_for(None, "198.51.100.2") == 18


def test_an_attack_ends_ten_seconds_after_its_failures_stop() -> None:
    clock = Clock()
    s = _suspicion(clock)
    _attack(s, clock)
    clock.now += suspicion_module.HISTORY_SECONDS + 1
    assert not s.under_attack
    assert s.difficulty_for("110101198001010010", "203.0.113.7") is None


def test_a_flood_of_unverified_requests_past_their_allowance_is_an_attack() -> None:
    clock = Clock()
    s = _suspicion(clock)
    # Rotating addresses within one /24: each address is within its allowance, the network is not
    for i in range(600 + 200):
        clock.now += 0.005
        s.difficulty_for(None, f"203.0.113.{i % 250}")
    clock.now += 0.1  # the door works out its attack level ten times a second
    assert s.under_attack
    # While a verified citizen within its allowance still is not challenged
    assert s.difficulty_for("110101198001010010", "198.51.100.9") is None


def test_one_token_from_many_networks_is_challenged_attack_or_not() -> None:
    clock = Clock()
    s = _suspicion(clock)
    citizen = "110101198001010010"
    # A phone and a home: two networks, within the allowance
    assert s.difficulty_for(citizen, "203.0.113.7") is None
    assert s.difficulty_for(citizen, "198.51.100.7") is None
    # A third network within the minute: a replayed token, with no attack going on
    assert not s.under_attack
    assert s.difficulty_for(citizen, "192.0.2.7") == 17
    assert s.difficulty_for(citizen, "203.0.113.7") == 17
    # Next minute it starts afresh
    clock.now += 61
    assert s.difficulty_for(citizen, "203.0.113.7") is None


def test_the_quick_ipv4_network_agrees_with_ipaddress() -> None:
    import ipaddress

    for address in ("0.0.0.0", "10.1.2.3", "255.255.255.255", "172.16.0.250", "1.2.3.04"):
        expected = str(ipaddress.ip_network(f"{address}/24", strict=False)) if address != "1.2.3.04" else None
        assert network_of(address) == (expected or address)
    assert network_of("256.1.1.1") == "256.1.1.1"
