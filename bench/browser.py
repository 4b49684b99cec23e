"""Headless Chromium over the DevTools protocol, with aiohttp's websocket client: load a page, run a
script in it, take a screenshot, slow its CPU. For the page tests, their screenshots and accessibility
check, and the proof-of-work solver's timing (no Playwright: Debian's Chromium and aiohttp suffice).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench.private_rabbit import free_port

ROOT = Path(__file__).resolve().parents[1]
# axe-core, the accessibility checker, where scripts/setup.sh installs it from the npm registry.
AXE = (
    Path(os.environ.get("TICKETGATE_RUN_DIR", ROOT / ".run"))
    / "axe"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)


class BrowserError(RuntimeError):
    pass


class Page:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        n = next(self._ids)
        await self._ws.send_str(orjson.dumps({"id": n, "method": method, "params": params}).decode())
        while True:
            message = await self._ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise BrowserError(f"DevTools closed the connection during {method}")
            reply = orjson.loads(message.data)
            if reply.get("id") == n:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    async def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise
        )
        if "exceptionDetails" in result:
            raise BrowserError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    async def open(self, url: str, *, width: int = 390, height: int = 844, mobile: bool = True) -> None:
        """Load ``url`` in a viewport of that size (a phone's by default) and wait for it to load."""
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if mobile else 1,
            mobile=mobile,
        )
        await self.call("Page.enable")
        await self.call("Page.navigate", url=url)
        for _ in range(200):
            if await self.evaluate("document.readyState") == "complete":
                return
            await asyncio.sleep(0.05)
        raise BrowserError(f"{url} did not finish loading")

    async def screenshot(self, path: Path) -> Path:
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
        return path

    async def accessibility_violations(self, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
        """axe-core's violations of the WCAG 2.1 A and AA rules, of these impacts: ``rule: element``."""
        if not AXE.exists():
            raise BrowserError(f"axe-core is missing at {AXE}: scripts/setup.sh installs it")
        await self.evaluate(AXE.read_text(encoding="utf-8"))
        script = (
            "axe.run(document, {runOnly: {type: 'tag',"
            " values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
            f".then(r => r.violations.filter(v => {orjson.dumps(list(impacts)).decode()}.includes(v.impact))"
            ".flatMap(v => v.nodes.map(n => v.id + ': ' + n.target.join(' '))))"
        )
        return list(await self.evaluate(script, await_promise=True))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Page]:
    """A headless Chromium of its own (a fresh profile), and its first page."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise BrowserError("chromium is missing: scripts/setup.sh installs it")
    port = free_port()
    # Chromium's helper processes may still write to the profile as it goes: its removal is best effort.
    with tempfile.TemporaryDirectory(prefix="tg-chromium-", ignore_cleanup_errors=True) as profile:
        proc = await asyncio.create_subprocess_exec(
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its renderers and helpers in one group, stopped together
        )
        try:
            async with aiohttp.ClientSession() as http:
                url = await _page_socket(http, port)
                async with http.ws_connect(url, max_msg_size=0) as ws:
                    yield Page(ws)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


async def _page_socket(http: aiohttp.ClientSession, port: int) -> str:
    for _ in range(200):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                pages = [t for t in await response.json() if t.get("type") == "page"]
                if pages:
                    return str(pages[0]["webSocketDebuggerUrl"])
        await asyncio.sleep(0.05)
    raise BrowserError("Chromium's DevTools did not answer")
