"""The benchmark's citizens and their tokens from the identity provider (SPEC "Additions").

A load generator speaks for a pool of ``CITIZENS`` residents, each with a token minted once from the
provider's ``POST /v1/tokens``, as a citizen's browser keeps one token for a session: a fresh citizen
per request would need a fresh token per request, which no portal login hands out at that rate. The
pool is a prime, so that the seeds of one citizen run through every payload variant of a kind before
one repeats (``bench.submissions``): bodies stay distinct and dedupe never answers for the run.

The harness mints the pool once and passes it to its generators in a file (``BENCH_TOKENS_FILE``):
one ``resident ID<TAB>token`` per line, which wrk's Lua script reads too.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import aiohttp

from queue_config.resident_id import make as make_resident_id

CITIZENS = 4093
TOKEN_SECONDS = 6 * 3600  # longer than any run
TOKENS_FILE_ENV = "BENCH_TOKENS_FILE"
# ES256: the provider signs it in a tenth of RS256's time, and the pool is minted before every run.
ALGORITHM = "ES256"


def citizen(seed: int) -> str:
    return make_resident_id(seed % CITIZENS)


async def mint(
    http: aiohttp.ClientSession, issuer: str, subs: list[str], *, concurrency: int = 32
) -> dict[str, str]:
    gate = asyncio.Semaphore(concurrency)

    async def one(sub: str) -> str:
        body = {"sub": sub, "ttl_seconds": TOKEN_SECONDS, "alg": ALGORITHM}
        async with gate, http.post(issuer.rstrip("/") + "/v1/tokens", json=body) as response:
            if response.status != 200:
                raise RuntimeError(f"the identity provider at {issuer} answered {response.status}")
            return str((await response.json())["access_token"])

    tokens = await asyncio.gather(*(one(sub) for sub in subs))
    return dict(zip(subs, tokens, strict=True))


async def mint_pool(http: aiohttp.ClientSession, issuer: str) -> dict[str, str]:
    return await mint(http, issuer, [citizen(n) for n in range(CITIZENS)])


def write(path: Path, tokens: dict[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{sub}\t{token}\n" for sub, token in tokens.items()))
    return path


def read(path: Path) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in path.read_text().splitlines() if "\t" in line)


async def pool(http: aiohttp.ClientSession | None = None, issuer: str | None = None) -> dict[str, str]:
    """The pool's tokens: from ``BENCH_TOKENS_FILE`` when the harness wrote one, else minted now from
    the provider at ``issuer`` (default ``AUTH_ISSUER``)."""
    if given := os.environ.get(TOKENS_FILE_ENV):
        return read(Path(given))
    issuer = issuer or os.environ.get("AUTH_ISSUER", "http://127.0.0.1:8092")
    if http is not None:
        return await mint_pool(http, issuer)
    async with aiohttp.ClientSession() as session:
        return await mint_pool(session, issuer)


def header(tokens: dict[str, str], sub: str) -> dict[str, str]:
    """The submission's Authorization header; none for a citizen outside the pool (an attack's)."""
    token = tokens.get(sub)
    return {"Authorization": f"Bearer {token}"} if token else {}


def main() -> None:
    """``python -m bench.citizen_tokens FILE``: mint the pool from AUTH_ISSUER into FILE (for the wrk
    scripts)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m bench.citizen_tokens", description=main.__doc__)
    p.add_argument("file", type=Path, help="where to write the pool: resident ID<TAB>token per line")
    p.add_argument(
        "--issuer",
        default=os.environ.get("AUTH_ISSUER", "http://127.0.0.1:8092"),
        help="the identity provider (default: AUTH_ISSUER, else http://127.0.0.1:8092)",
    )
    args = p.parse_args()

    async def mint_to_file() -> None:
        async with aiohttp.ClientSession() as http:
            write(args.file, await mint_pool(http, args.issuer))

    asyncio.run(mint_to_file())


if __name__ == "__main__":
    main()
