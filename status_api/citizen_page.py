"""``GET /t/{ticket_id}``: a plain, self-refreshing HTML page for citizens, in Chinese and English."""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web

from status_api.ticket_view import ticket_document
from status_api.tickets import READER

_STATUS_TEXT = {
    "scheduled": ("已预约", "Scheduled for a later window"),
    "queued": ("排队中", "Waiting in line"),
    "processing": ("办理中", "Being processed"),
    "retrying": ("稍后重试", "Will be retried shortly"),
    "held": ("系统维护中，已保留", "Held during maintenance"),
    "done": ("已办结", "Done"),
    "failed": ("办理失败", "Failed"),
}
_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}<title>办理进度 · Ticket status</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:36rem;margin:1rem auto;padding:0 1rem;line-height:1.5}}
dt{{font-weight:600;margin-top:.6rem}}dd{{margin:0}}.s{{font-size:1.4rem}}code{{word-break:break-all}}</style>
</head><body>
<h1>办理进度 <small>Ticket status</small></h1>
{content}
</body></html>"""


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} 秒 / s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} 分钟 / min"
    return f"{seconds / 3600:.1f} 小时 / h"


def _row(zh: str, en: str, value: str) -> str:
    return f"<dt>{zh} · {en}</dt><dd>{value}</dd>"


def render(doc: dict[str, Any] | None, ticket_id: str) -> str:
    if doc is None:
        content = "<p>未找到该受理编号。 No ticket with this number.</p>"
        return _PAGE.format(refresh="", content=content)
    zh, en = _STATUS_TEXT.get(doc["status"], (doc["status"], doc["status"]))
    rows = [
        _row("受理编号", "Ticket", f"<code>{html.escape(ticket_id)}</code>"),
        _row("状态", "Status", f'<span class="s">{zh} · {en}</span>'),
    ]
    if doc.get("scheduled_for"):
        rows.append(_row("预约办理时间", "Runs from", f"{html.escape(doc['scheduled_for'])} (UTC)"))
    if doc.get("held_until"):
        rows.append(_row("维护结束", "Maintenance ends", f"{html.escape(doc['held_until'])}"))
    if doc["position"] is not None:
        rows.append(_row("前方排队", "Ahead of you", str(doc["position"])))
    if doc["eta_seconds"] is not None:
        p90 = doc.get("eta_p90_seconds")
        bound = f" (≤ {_duration(p90)})" if p90 is not None else ""
        rows.append(_row("预计完成", "Expected in", f"~{_duration(doc['eta_seconds'])}{bound}"))
    if doc.get("result") is not None:
        items = "".join(
            f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in doc["result"].items()
        )
        rows.append(_row("办理结果", "Result", f"<ul>{items}</ul>"))
    if doc["status"] == "done" and "result" not in doc:
        rows.append(
            _row("办理结果", "Result", "请登录门户查看办理结果。 Sign in to the portal to see the result.")
        )
    if doc.get("error") is not None:
        rows.append(_row("原因", "Reason", html.escape(str(doc["error"].get("message", "")))))
    refresh = (
        ""
        if doc["status"] in ("done", "failed")
        else f'<meta http-equiv="refresh" content="{int(doc["poll_after_seconds"])}">'
    )
    return _PAGE.format(refresh=refresh, content="<dl>" + "".join(rows) + "</dl>")


async def citizen_page(request: web.Request) -> web.Response:
    reader = request.app[READER]
    ticket_id = request.match_info["ticket_id"]
    record = await reader.read(ticket_id)
    # A page opened from a link carries no token: it shows the status, never a result's details.
    doc = await ticket_document(record, reader.eta, owner=False) if record else None
    return web.Response(
        text=render(doc, ticket_id),
        status=200 if doc else 404,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
