"""The citizen's page (``/t/{ticket_id}``) in headless Chromium, on a phone's screen: a queued, a
processing, a late, a done and a failed ticket, each screenshotted (``.artifacts/screenshots/``, or
``$TICKETGATE_ARTIFACTS``; the committed ones are in ``bench/reports/screenshots/``) and checked with
axe-core for WCAG 2.1 A/AA violations of serious or critical impact."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from bench.browser import chromium
from queue_config.settings import Settings
from queue_config.stores.redis.record_fields import stored
from tests.support.system import System, start_system, submission

ARTIFACTS = Path(os.environ.get("TICKETGATE_ARTIFACTS", Path(__file__).resolve().parents[2] / ".artifacts"))
SHOTS = ARTIFACTS / "screenshots"


@pytest.fixture
async def waiting(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    """Front door and status API with no worker: tickets stay in line."""
    system = await start_system(fresh_namespace, http, redis, workers=False)
    yield system
    await system.stop()


async def _page(system: System, ticket_id: str, name: str, headers: dict[str, str] | None = None) -> str:
    """The page's text as a phone's browser shows it, after a screenshot and the accessibility check."""
    assert system.status is not None
    url = f"{system.status.url}/t/{ticket_id}"
    async with chromium() as page:
        if headers:
            await page.call("Network.enable")
            await page.call("Network.setExtraHTTPHeaders", headers=headers)
        await page.open(url)
        await page.screenshot(SHOTS / f"citizen-{name}.png")
        text = str(await page.evaluate("document.body.innerText"))
        assert await page.accessibility_violations() == []
        assert await page.evaluate("document.documentElement.lang") == "zh-CN"
        assert await page.evaluate("document.querySelectorAll('[lang=en]').length") > 5
    return text


async def test_a_queued_ticket_shows_its_place_the_wait_in_words_and_when_it_refreshes(
    waiting: System,
) -> None:
    body = submission("payment", waiting.next_n())
    for n in range(3):  # others ahead in line
        await waiting.submit(submission("payment", waiting.next_n() + 100 + n))
    code, accepted, _ = await waiting.submit(body)
    assert code == 202
    text = await _page(waiting, accepted["ticket_id"], "queued")
    assert "排队中" in text and "Waiting in line" in text
    assert "前面还有" in text and "Ahead of you" in text
    assert "预计还需" in text and ("second" in text or "minute" in text)
    assert "缴费" in text and "Payment" in text  # what was submitted
    cid = body["citizen_id"]
    assert cid not in text and f"{cid[:6]}" in text and cid[-2:] in text  # the resident ID, masked
    assert "This page refreshes itself every" in text and "Stop refreshing" in text
    assert waiting.status is not None
    async with waiting.http.get(f"{waiting.status.url}/t/{accepted['ticket_id']}") as response:
        page = await response.text()
    _, doc = await waiting.ticket(accepted["ticket_id"])
    expected = min(300, max(2, doc["poll_after_seconds"]))
    assert f'data-refresh="{expected}"' in page  # the server's hint, not every second
    assert 'http-equiv="refresh"' not in page  # a reader can stop the script's refreshing, not a meta's


async def test_a_page_left_open_follows_its_ticket_and_a_late_one_says_so(
    waiting: System, redis: Redis
) -> None:
    code, accepted, _ = await waiting.submit(submission("transfer", waiting.next_n()))
    assert code == 202
    assert waiting.status is not None
    async with chromium() as page:
        await page.open(f"{waiting.status.url}/t/{accepted['ticket_id']}")
        assert "排队中" in str(await page.evaluate("document.body.innerText"))
        # A worker takes it (what a worker's begin_attempt writes; a core slowed to hold a ticket in
        # processing would make this test as slow as that core): the open page follows by itself
        key = waiting.names.ticket(accepted["ticket_id"])
        await redis.hset(
            key,
            mapping={
                stored("status"): "processing",
                stored("attempts"): 1,
                stored("updated_at"): time.time(),
            },
        )
        for _ in range(200):
            if "正在办理" in str(await page.evaluate("document.body.innerText")):
                break
            await asyncio.sleep(0.1)
        text = str(await page.evaluate("document.body.innerText"))
        assert "正在办理" in text and "Being processed" in text
        await page.screenshot(SHOTS / "citizen-processing.png")
        assert await page.accessibility_violations() == []
        # And the reader can stop the refreshing
        await page.evaluate("document.getElementById('pause').click()")
        assert "Refreshing stopped" in str(await page.evaluate("document.body.innerText"))
    # One whose promised time passed while it waited
    code, late, _ = await waiting.submit(submission("pension", waiting.next_n()))
    assert code == 202
    await redis.hset(waiting.names.ticket(late["ticket_id"]), stored("promised_by"), time.time() - 300)
    text = await _page(waiting, late["ticket_id"], "late")
    assert "比承诺的时间晚了" in text and "Later than promised" in text
    assert "no need to submit again" in text


async def test_a_done_ticket_shows_its_result_to_its_owner_in_yuan(system: System) -> None:
    body = submission("payment", system.next_n())
    body["payload"]["amount_cents"] = 12345
    code, accepted, _ = await system.submit(body)
    assert code == 202
    await system.wait_for_status(accepted["ticket_id"], {"done"})
    # Opened from a link: done, and where to see the result
    text = await _page(system, accepted["ticket_id"], "done-link")
    assert "已办结" in text and "Sign in to the portal to see the result" in text
    assert "¥123.45" not in text
    # Fetched with the citizen's token (as the portal would): the result, formatted
    owner = await system.tokens.header(body["citizen_id"])
    text = await _page(system, accepted["ticket_id"], "done", headers=owner)
    assert "¥123.45" in text and "回执编号" in text and "Receipt number" in text and "PAY-" in text
    assert "办结时间" in text and "Finished" in text
    assert "refreshes itself" not in text and "Stop refreshing" not in text


async def test_a_failed_ticket_says_what_to_do_next(system: System) -> None:
    body = submission("transfer", system.next_n())
    body["payload"]["to_region"] = "650199"
    await system.add_fault({"to_region": "650199"}, permanent=True)
    code, accepted, _ = await system.submit(body)
    assert code == 202
    await system.wait_for_status(accepted["ticket_id"], {"failed"})
    text = await _page(system, accepted["ticket_id"], "failed")
    assert "未能办结" in text and "Could not be completed" in text
    assert "接下来怎么办" in text and "What to do next" in text and "12333" in text


async def test_an_unknown_ticket_is_a_clear_404_page(waiting: System) -> None:
    assert waiting.status is not None
    async with waiting.http.get(f"{waiting.status.url}/t/{'a' * 42}") as response:
        assert response.status == 404
        assert "No ticket with this number" in await response.text()
