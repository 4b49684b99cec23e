"""Components run as real processes (``python -m ...``), for tests that kill or signal them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from queue_config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


def component_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "AMQP_URL": settings.amqp_url,
        "REDIS_URL": settings.redis_url,
        "NAMESPACE": settings.namespace,
        "CORE_URL": settings.core_url,
        "RETRY_BASE_SECONDS": str(settings.retry_base_seconds),
        "RETRY_JITTER_STEPS": str(settings.retry_jitter_steps),
        "RETRY_OVERDUE_SECONDS": str(settings.retry_overdue_seconds),
        "CALLBACK_ALLOWED_NETWORKS": settings.callback_allowed_networks,
        "AUTH_REQUIRED": "true" if settings.auth_required else "false",
        "AUTH_ISSUER": settings.auth_issuer,
        "LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def start_component(
    module: str, settings: Settings, *args: str, log_name: str, **env: str
) -> subprocess.Popen[bytes]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / f"{log_name}.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=component_env(settings, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    finally:
        log.close()


async def sigterm_and_wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int | None, float]:
    """SIGTERM, then the exit code and the seconds it took; a process still running after ``timeout``
    is killed and answers None."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code: int | None = await asyncio.to_thread(proc.wait, timeout)
    except subprocess.TimeoutExpired:
        code = None
    took = time.monotonic() - started
    kill_if_running(proc)
    return code, took


def kill_if_running(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def read_log(log_name: str) -> str:
    path = ARTIFACTS / f"{log_name}.log"
    return path.read_text() if path.exists() else ""
