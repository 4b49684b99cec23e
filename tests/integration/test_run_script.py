"""The README's run command: all four processes start, serve a submission end to end, and Ctrl-C
stops every one of them."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import aiohttp
import psutil

from bench.private_rabbit import free_port
from bench.purge import purge_namespace
from bench.readiness import wait_http
from queue_config.settings import Settings
from tests.support.identity import TokenBook
from tests.support.processes import ARTIFACTS, ROOT
from tests.support.system import submission


async def test_run_script_serves_the_whole_path_and_stops_on_ctrl_c(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: object
) -> None:
    ports = {
        "FRONTDOOR_PORT": free_port(),
        "STATUS_PORT": free_port(),
        "CORE_PORT": free_port(),
        "IDP_PORT": free_port(),
    }
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "CORE_URL": f"http://127.0.0.1:{ports['CORE_PORT']}",
        "PUBLIC_STATUS_URL": f"http://127.0.0.1:{ports['STATUS_PORT']}",
        "NAMESPACE": fresh_namespace.namespace,
        "CORE_SERVICE_MS": "20",
        # The same retry settings as the test's, so the purge finds every delay queue they declare
        "RETRY_BASE_SECONDS": str(fresh_namespace.retry_base_seconds),
        "RETRY_JITTER_STEPS": str(fresh_namespace.retry_jitter_steps),
    }
    proc = _start_run(env, "run-script.log")
    try:
        front = f"http://127.0.0.1:{ports['FRONTDOOR_PORT']}"
        status = f"http://127.0.0.1:{ports['STATUS_PORT']}"
        await wait_http(http, front + "/readyz", 90)
        await wait_http(http, status + "/readyz", 90)

        # The citizen's token from the identity provider the script started
        body = submission("transfer", 5)
        token = await TokenBook(http, f"http://127.0.0.1:{ports['IDP_PORT']}").header(body["citizen_id"])
        async with http.post(front + "/v1/submissions", json=body, headers=token) as r:
            assert r.status == 202
            accepted = await r.json()
        assert accepted["status_url"].startswith(status)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            async with http.get(accepted["status_url"], params={"wait": "5"}, headers=token) as r:
                doc = await r.json()
            if doc["status"] == "done":
                break
        assert doc["status"] == "done", doc
        assert "receipt_id" in str(doc["result"]) or "transfer_id" in doc["result"], doc  # the owner's view

        # Ctrl-C reaches the whole foreground process group
        os.killpg(proc.pid, signal.SIGINT)
        code = await asyncio.to_thread(proc.wait, 60)
        assert code is not None
        assert _left_running(proc) == []
        # And a Ctrl-C is not reported as a component's failure
        said = (ARTIFACTS / "run-script.log").read_text(errors="replace")
        assert "[run] stopped" in said and "stopping the rest" not in said, said[-2000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        await purge_namespace(fresh_namespace, redis)  # type: ignore[arg-type]


async def test_a_component_stopped_on_request_stops_the_others_without_a_failure(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: object
) -> None:
    # What a Ctrl-C that bash does not see looks like to the script: one component exits 0, first
    ports = _component_ports()
    env = {
        **os.environ,
        **ports,
        "NAMESPACE": fresh_namespace.namespace,
        # The same retry settings as the test's, so the purge finds every delay queue they declare
        "RETRY_BASE_SECONDS": str(fresh_namespace.retry_base_seconds),
        "RETRY_JITTER_STEPS": str(fresh_namespace.retry_jitter_steps),
    }
    proc = _start_run(env, "run-script-one-stopped.log")
    try:
        await wait_http(http, f"http://127.0.0.1:{ports['STATUS_PORT']}/readyz", 90)
        (status_api,) = [
            p for p in psutil.Process(proc.pid).children(recursive=True) if "status_api" in p.cmdline()
        ]
        status_api.terminate()
        assert await asyncio.to_thread(proc.wait, 60) == 0
        assert _left_running(proc) == []
        said = (ARTIFACTS / "run-script-one-stopped.log").read_text(errors="replace")
        assert "[run] status-api stopped; stopping the others" in said, said[-2000:]
        assert "exited (status" not in said and "[run] stopped" in said, said[-2000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        await purge_namespace(fresh_namespace, redis)  # type: ignore[arg-type]


def _start_run(env: dict[str, str], log_name: str) -> subprocess.Popen[bytes]:
    """``scripts/run.sh`` in a session of its own (as a terminal would run it), its output in ``log_name``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / log_name).open("wb") as log:
        return subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _left_running(proc: subprocess.Popen[bytes]) -> list[str]:
    return subprocess.run(
        ["pgrep", "-g", str(proc.pid)], capture_output=True, text=True, check=False
    ).stdout.split()


def test_servers_the_set_up_starts_listen_on_loopback_and_stop_on_request(tmp_path: Path) -> None:
    # Given no Redis, RabbitMQ or PostgreSQL at the configured URLs
    redis_port, amqp_port, pg_port = free_port(), free_port(), free_port()
    ports = (redis_port, amqp_port, pg_port)
    env = {
        **os.environ,
        "TICKETGATE_RUN_DIR": str(tmp_path / "run"),
        "TICKETGATE_NO_BROWSER": "1",  # no page tests from this run directory
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{amqp_port}/",
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg_port}/ticketgate",
    }
    servers = ["bash", "scripts/servers.sh"]
    try:
        # When the set-up runs, it starts all three, listening on the loopback only
        setup = subprocess.run(
            ["bash", "scripts/setup.sh"], cwd=ROOT, env=env, timeout=300, capture_output=True, text=True
        )
        assert setup.returncode == 0, setup.stderr[-3000:]
        listening = {
            (c.laddr.ip, c.laddr.port)
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
        }
        assert listening == {("127.0.0.1", port) for port in ports}, listening
        # And the archive's database exists, its schema applied
        assert "archive schema: applied 0001_ticket_archive.sql" in setup.stderr, setup.stderr[-3000:]
        status = subprocess.run([*servers, "status"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert "Redis runs" in status.stderr and "RabbitMQ ticketgate-" in status.stderr, status.stderr
        assert "PostgreSQL runs" in status.stderr, status.stderr
    finally:
        # And the stop command stops them all
        subprocess.run([*servers, "stop"], cwd=ROOT, env=env, check=True, timeout=120)
        # (PostgreSQL's data may live outside the run directory, where its user can reach it)
        where = tmp_path / "run" / "postgres.data"
        if where.exists():
            shutil.rmtree(where.read_text().strip(), ignore_errors=True)
    still = [c for c in psutil.net_connections(kind="tcp") if c.laddr and c.laddr.port in ports]
    assert not [c for c in still if c.status == psutil.CONN_LISTEN], still


def _component_ports() -> dict[str, str]:
    return {name: str(free_port()) for name in ("FRONTDOOR_PORT", "STATUS_PORT", "CORE_PORT", "IDP_PORT")}


def test_a_taken_port_is_named_with_the_variable_that_moves_it() -> None:
    ports = _component_ports()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(ports["STATUS_PORT"])))
        taken.listen()
        run = subprocess.run(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env={**os.environ, **ports},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert run.returncode == 1
    assert f"port {ports['STATUS_PORT']} (STATUS_PORT) is taken" in run.stderr, run.stderr
    assert "STATUS_PORT=<another port>" in run.stderr


def test_a_component_that_exits_at_start_is_named_with_its_last_lines() -> None:
    # A setting every component refuses: each exits at once, non-zero
    env = {**os.environ, **_component_ports(), "QUEUE_SHARDS": "0"}
    run = subprocess.run(
        ["bash", "scripts/run.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stderr[-2000:]
    named = re.search(r"\[run\] (\S+) exited \(status (\d+)\); its last lines:", run.stderr)
    assert named is not None, run.stderr[-2000:]
    assert named.group(2) != "0"
    assert "QUEUE_SHARDS must lie between 1 and 64" in run.stderr.split(named.group(0))[1]
    assert "[run] stopping the rest" in run.stderr


async def test_ctrl_c_stops_the_servers_the_run_started(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    # Given no Redis and no RabbitMQ at the configured URLs: the run's set-up starts its own
    redis_port, amqp_port = free_port(), free_port()
    ports = _component_ports()
    env = {
        **os.environ,
        **ports,
        "TICKETGATE_RUN_DIR": str(tmp_path / "run"),
        "TICKETGATE_NO_BROWSER": "1",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{amqp_port}/",
    }
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        await wait_http(http, f"http://127.0.0.1:{ports['FRONTDOOR_PORT']}/readyz", 180)
        # When Ctrl-C reaches the run
        os.killpg(proc.pid, signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 120) is not None
        # Then the Redis and RabbitMQ it started are stopped too
        listening = [
            c
            for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port in (redis_port, amqp_port)
        ]
        assert listening == [], listening
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        subprocess.run(["bash", "scripts/servers.sh", "stop"], cwd=ROOT, env=env, timeout=120, check=False)
