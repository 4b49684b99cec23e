"""``python -m bench.fuzz``: schemathesis against the front door's and the status API's own OpenAPI
documents, with and without credentials, on a system of its own (its own namespace, ports and core
simulator on the configured RabbitMQ and Redis).

Five runs: the front door without credentials, with the operator token and with an enterprise key; the
status API without credentials and with an enterprise key. Every check schemathesis has, except
``positive_data_acceptance``: a JSON Schema cannot say that a resident ID's last character is its check
character, so data the document allows may still be refused with a 422, as it should be. A run fails on
any 5xx, any answer the document does not describe, and any other check. The suite runs it with a few
examples per operation (``tests/integration/test_fuzzing.py``); the full-length run is ``--max-examples 300``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import citizen_tokens
from bench.harness.targets import OPERATOR_TOKEN, TICKETGATE, Layout, create_enterprise, start
from bench.ports import free_port_block

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SEED = 20261201


@dataclass(frozen=True, slots=True)
class FuzzRun:
    server: str
    credentials: str
    cases: int
    failures: int
    server_errors: int
    returncode: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failures == 0


_GENERATED = re.compile(r"(\d+) generated")
_FAILED = re.compile(r"(\d+) unique failures?")


def _counts(output: str) -> tuple[int, int, int]:
    generated = sum(int(n) for n in _GENERATED.findall(output))
    failures = sum(int(n) for n in _FAILED.findall(output))
    server_errors = len(re.findall(r"\[5\d\d\]", output))
    return generated, failures, server_errors


async def _schemathesis(url: str, header: str | None, max_examples: int, seed: int) -> tuple[int, str]:
    args = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        url + "/openapi.json",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        str(max_examples),
        "--seed",
        str(seed),
        "--no-color",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "all",
    ]
    if header:
        args += ["--header", header]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode(errors="replace")


async def fuzz(max_examples: int, seed: int = DEFAULT_SEED) -> list[FuzzRun]:
    layout = Layout(
        namespace=f"tgfuzz-{uuid.uuid4().hex[:8]}",
        port_base=free_port_block(Layout.PORTS),
        core_service_ms=20,
        # One generator is one client, and its generated resident IDs repeat: no per-client limits.
        extra_env={"PER_CLIENT_PER_MINUTE": "0", "LOG_LEVEL": "error"},
    )
    async with aiohttp.ClientSession() as http:
        running = await start(TICKETGATE, layout, http)
        try:
            enterprise_key = await create_enterprise(http, layout.front_url, "Fuzz Ltd", 1_000_000)
            # One citizen's token: generated submissions name other citizens too, which must be 403s.
            sub = citizen_tokens.citizen(0)
            citizen = (await citizen_tokens.mint(http, layout.idp_url, [sub]))[sub]
            plan = [
                ("front door", layout.front_url, "none", None),
                ("front door", layout.front_url, "citizen", f"Authorization: Bearer {citizen}"),
                ("front door", layout.front_url, "operator", f"Authorization: Bearer {OPERATOR_TOKEN}"),
                ("front door", layout.front_url, "enterprise", f"Authorization: Bearer {enterprise_key}"),
                ("status API", layout.status_url, "none", None),
                ("status API", layout.status_url, "citizen", f"Authorization: Bearer {citizen}"),
                ("status API", layout.status_url, "enterprise", f"Authorization: Bearer {enterprise_key}"),
            ]
            runs = []
            for server, url, credentials, header in plan:
                code, output = await _schemathesis(url, header, max_examples, seed)
                cases, failures, server_errors = _counts(output)
                runs.append(FuzzRun(server, credentials, cases, failures, server_errors, code, output))
            return runs
        finally:
            await running.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--max-examples", type=int, default=300, help="examples per operation and phase")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--verbose", action="store_true", help="print schemathesis's whole output")
    args = parser.parse_args()
    runs = asyncio.run(fuzz(args.max_examples, args.seed))
    print("| server | credentials | cases | failures | 5xx |")
    print("| --- | --- | ---: | ---: | ---: |")
    for run in runs:
        print(f"| {run.server} | {run.credentials} | {run.cases:,} | {run.failures} | {run.server_errors} |")
        if args.verbose or not run.ok:
            print(run.output)
    cases, failures = sum(r.cases for r in runs), sum(r.failures for r in runs)
    print(f"\n{cases:,} cases, {failures} failures, {sum(r.server_errors for r in runs)} 5xx")
    sys.exit(0 if all(r.ok for r in runs) else 1)


if __name__ == "__main__":
    main()
