"""``GET /t/{ticket_id}``: the ticket's page for citizens, Chinese first with English, for a phone first.

What was submitted (kind, masked resident ID, when), where it is (a step indicator, the place in line
and the wait in words), whether it is later than promised, and how it ended: the result formatted for its
kind (shown only to its owner, whose token the portal sends along, as the status API does) or, for a
failed ticket, what to do next. The page refreshes itself as the status API's ``poll_after_seconds``
says. Plain HTML and CSS, no script, nothing fetched from elsewhere: it works on any phone, and with
JavaScript off.
"""

from __future__ import annotations

import datetime as dt
import html
import time
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from queue_config.kinds import REGISTRY
from queue_config.stores.tickets import TicketRecord
from status_api.ticket_owner import OWNERS
from status_api.ticket_view import ticket_document
from status_api.tickets import READER

PAGE_TIMEZONE = web.AppKey("page_timezone", ZoneInfo)
# The refresh bounds: a page never reloads more often than every 2 s, nor waits more than 5 minutes.
REFRESH_MIN, REFRESH_MAX = 2, 300
HOTLINE = "12333"  # the national social-insurance service line

_STEPS = [
    ("received", "已受理", "Received"),
    ("queued", "排队中", "In line"),
    ("processing", "办理中", "Processing"),
]
_STEP_OF = {
    "scheduled": "queued",
    "queued": "queued",
    "held": "queued",
    "processing": "processing",
    "retrying": "processing",
    "done": "end",
    "failed": "end",
}
_STATUS_TEXT = {
    "scheduled": ("已预约，将在空闲时段办理", "Booked for a quieter time"),
    "queued": ("排队中", "Waiting in line"),
    "held": ("系统维护中，已为您保留", "Kept for you during maintenance"),
    "processing": ("正在办理", "Being processed"),
    "retrying": ("正在办理（稍后自动重试）", "Being processed (an automatic retry follows)"),
    "done": ("已办结", "Done"),
    "failed": ("未能办结", "Could not be completed"),
}
_RESULT_FIELDS = {
    "receipt_id": ("回执编号", "Receipt number"),
    "claim_id": ("申请编号", "Claim number"),
    "estimate_id": ("测算编号", "Estimate number"),
    "transfer_id": ("转移编号", "Transfer number"),
    "amount_cents": ("金额", "Amount"),
    "monthly_amount_cents": ("每月金额", "Monthly amount"),
    "to_region": ("转入地区代码", "Moving to (division code)"),
}

_STYLE = """
*{box-sizing:border-box}
body{margin:0;color:#1a1a1a;background:#f3f5f8;
font:1rem/1.6 system-ui,-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif}
main{max-width:40rem;margin:0 auto;padding:1rem}
header{background:#0b3d91;color:#fff;padding:.9rem 1rem}
header h1{margin:0 auto;max-width:38rem;font-size:1.25rem}
.en{display:block;font-size:.85em;color:#3d3d3d}
header .en{color:#dfe7f5}
.card{background:#fff;border-radius:.5rem;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px rgba(0,0,0,.12)}
.status{font-size:1.35rem;font-weight:700;margin:0}
.status.done{color:#0d6b2f}.status.failed{color:#a4161a}
.late{background:#fff4e5;border-left:.35rem solid #8a4b00;color:#5c3200}
h2{font-size:1.05rem;margin:0 0 .5rem}
dl{margin:0;display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
ol.steps{list-style:none;margin:.75rem 0 0;padding:0;display:flex;gap:.25rem}
ol.steps li{flex:1;text-align:center;font-size:.85rem;padding:.5rem .2rem;color:#4a4a4a;
border-top:.3rem solid #c4c9d1}
ol.steps li.past{border-color:#0b3d91;color:#1a1a1a}
ol.steps li[aria-current]{border-color:#0b3d91;color:#0b3d91;font-weight:700}
ol.steps li.failed{border-color:#a4161a;color:#a4161a;font-weight:700}
.big{font-size:1.5rem;font-weight:700}
code{font-size:.8rem;word-break:break-all}
footer{font-size:.85rem;color:#3d3d3d;padding:0 1rem 2rem;max-width:40rem;margin:0 auto}
"""


def _both(zh: str, en: str) -> str:
    return f'{html.escape(zh)}<span class="en" lang="en">{html.escape(en)}</span>'


def _wait_words(seconds: float) -> tuple[str, str]:
    if seconds < 60:
        n = max(1, round(seconds))
        return f"约 {n} 秒", f"about {n} second{'s' if n != 1 else ''}"
    if seconds < 5400:
        n = round(seconds / 60)
        return f"约 {n} 分钟", f"about {n} minute{'s' if n != 1 else ''}"
    hours = seconds / 3600
    return f"约 {hours:.1f} 小时", f"about {hours:.1f} hours"


def _yuan(cents: Any) -> str:
    if isinstance(cents, int) and not isinstance(cents, bool):
        return f"¥{cents // 100:,}.{cents % 100:02d}"
    return html.escape(str(cents))


def _next_steps(error: Any) -> tuple[str, str]:
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    if code == "duplicate_invoice":
        return (
            "这张发票已经报销过，无需再次申请。如有疑问，请联系就诊医院或拨打 " + HOTLINE + "。",
            "This invoice was reimbursed before: there is no need to claim it again. "
            f"For questions, ask the hospital or call {HOTLINE}.",
        )
    if code.startswith("core_4"):
        return (
            "申请未通过核验。请核对填写的信息后重新提交，或拨打 " + HOTLINE + " 咨询。",
            "The application did not pass the checks. Check what you entered and submit again, "
            f"or call {HOTLINE}.",
        )
    return (
        "系统暂时未能办结这笔业务。请稍后重新提交，或拨打 " + HOTLINE + " 咨询。",
        f"The system could not complete this request. Please submit it again later, or call {HOTLINE}.",
    )


def _when(ts: str | float | None, tz: ZoneInfo) -> str:
    if ts is None:
        return "–"
    moment = (
        dt.datetime.fromtimestamp(ts, dt.UTC)
        if isinstance(ts, float | int)
        else dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    )
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M:%S} ({tz.key})"


def _steps(status: str) -> str:
    step = _STEP_OF.get(status, "queued")
    order = [name for name, _, _ in _STEPS] + ["end"]
    at = order.index(step)
    items = []
    for i, (_, zh, en) in enumerate(_STEPS):
        current = ' aria-current="step"' if i == at else ""
        cls = "past" if i < at else ""
        items.append(f'<li class="{cls}"{current}>{_both(zh, en)}</li>')
    if status == "failed":
        items.append(f'<li class="failed" aria-current="step">{_both("未能办结", "Not completed")}</li>')
    else:
        current = ' aria-current="step"' if status == "done" else ""
        items.append(
            f'<li class="{"past" if status == "done" else ""}"{current}>{_both("已办结", "Done")}</li>'
        )
    return '<ol class="steps" aria-label="办理步骤 / Steps">' + "".join(items) + "</ol>"


def _card(anchor: str, zh: str, en: str, body: str) -> str:
    return (
        f'<section class="card" aria-labelledby="{anchor}"><h2 id="{anchor}">{_both(zh, en)}</h2>'
        f"{body}</section>"
    )


def _row(zh: str, en: str, value: str) -> str:
    return f"<dt>{_both(zh, en)}</dt><dd>{value}</dd>"


def render(doc: dict[str, Any] | None, record: TicketRecord | None, ticket_id: str, tz: ZoneInfo) -> str:
    if doc is None or record is None:
        body = (
            '<div class="card"><p class="status">'
            + _both("未找到该受理编号", "No ticket with this number")
            + "</p><p>"
            + _both("请核对链接是否完整。", "Please check that the link is complete.")
            + "</p></div>"
        )
        return _page(body, refresh=None)
    status = str(doc["status"])
    zh, en = _STATUS_TEXT.get(status, (status, status))
    labels = REGISTRY[record.kind].labels if record.kind in REGISTRY else None
    terminal = status in ("done", "failed")
    late = (
        not terminal
        and record.promised_by is not None
        and time.time() > record.promised_by
        and status != "held"
    )
    cards = [
        '<section class="card" aria-labelledby="now">'
        f'<h2 id="now">{_both("当前状态", "Status")}</h2>'
        f'<p class="status {html.escape(status)}">{_both(zh, en)}</p>' + _steps(status) + "</section>"
    ]
    if late:
        promised = _when(record.promised_by, tz)
        cards.append(
            '<section class="card late" role="status">'
            + f"<h2>{_both('比承诺的时间晚了', 'Later than promised')}</h2><p>"
            + _both(
                f"我们承诺在 {promised} 前办结。您的业务仍在办理中，无需重复提交。",
                f"We promised it by {promised}. It is still being handled: there is no need to submit again.",
            )
            + "</p></section>"
        )
    if not terminal and doc.get("eta_seconds") is not None:
        wait_zh, wait_en = _wait_words(float(doc["eta_seconds"]))
        rows = []
        if doc.get("position") is not None:
            ahead = int(doc["position"])
            rows.append(_row("前面还有", "Ahead of you", f'<span class="big">{ahead:,}</span>'))
        p90 = doc.get("eta_p90_seconds")
        latest = ""
        if p90 is not None:
            l_zh, l_en = _wait_words(float(p90))
            latest = f"<br>{_both(f'最迟{l_zh}', f'at the latest in {l_en}')}"
        rows.append(_row("预计还需", "Expected in", _both(wait_zh, wait_en) + latest))
        if doc.get("scheduled_for"):
            rows.append(_row("预约办理时间", "Runs from", html.escape(_when(doc["scheduled_for"], tz))))
        if doc.get("held_until"):
            rows.append(_row("维护结束", "Maintenance ends", html.escape(_when(doc["held_until"], tz))))
        cards.append(_card("wait", "等待情况", "Your wait", f"<dl>{''.join(rows)}</dl>"))
    if status == "done":
        if "result" in doc and isinstance(doc["result"], dict):
            rows = []
            for key, value in doc["result"].items():
                r_zh, r_en = _RESULT_FIELDS.get(key, (key, key))
                shown = _yuan(value) if key.endswith("_cents") else html.escape(str(value))
                rows.append(_row(r_zh, r_en, shown))
            body = f"<dl>{''.join(rows)}</dl>"
        else:
            body = (
                "<p>" + _both("请登录门户查看办理结果。", "Sign in to the portal to see the result.") + "</p>"
            )
        cards.append(_card("result", "办理结果", "Result", body))
    if status == "failed":
        step_zh, step_en = _next_steps(doc.get("error"))
        reason = doc.get("error", {}).get("message", "") if isinstance(doc.get("error"), dict) else ""
        detail = f"<p><small>{html.escape(str(reason))}</small></p>" if reason else ""
        cards.append(
            _card("next", "接下来怎么办", "What to do next", f"<p>{_both(step_zh, step_en)}</p>{detail}")
        )
    rows = [
        _row("业务", "Service", _both(labels.zh, labels.en) if labels else html.escape(record.kind)),
        _row("身份证号", "Resident ID", html.escape(record.citizen or "–")),
        _row("提交时间", "Submitted", html.escape(_when(record.created_at, tz))),
    ]
    if terminal:
        rows.append(_row("办结时间", "Finished", html.escape(_when(record.updated_at, tz))))
    rows.append(_row("受理编号", "Ticket number", f"<code>{html.escape(ticket_id)}</code>"))
    cards.append(_card("what", "受理内容", "What you submitted", f"<dl>{''.join(rows)}</dl>"))
    refresh = (
        None if terminal else min(REFRESH_MAX, max(REFRESH_MIN, int(doc.get("poll_after_seconds") or 5)))
    )
    return _page("".join(cards), refresh)


def _page(body: str, refresh: int | None) -> str:
    """The page around its cards. A ticket still in progress refreshes itself as the status API's poll
    hint says, by a script that fetches the page again and swaps its content in place (no reload, so a
    reader's place and focus stay), announced politely, with a button that stops it (WCAG 2.2.1: a
    ``<meta http-equiv="refresh">`` would give the reader no say). Without JavaScript, "refresh now"."""
    attr = f' data-refresh="{refresh}"' if refresh else ""
    controls = (
        '<p id="refresh-note">'
        + _both(f"本页每 {refresh} 秒自动更新。", f"This page refreshes itself every {refresh} seconds.")
        + '</p><p><button type="button" id="pause">'
        + _both("暂停自动更新", "Stop refreshing")
        + '</button> <a href="">'
        + _both("立即刷新", "Refresh now")
        + "</a></p>"
        if refresh
        else ""
    )
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>办理进度 · Ticket status</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_both('办理进度', 'Ticket status')}</h1></header>"
        f'<main aria-live="polite"{attr}>{body}</main>'
        f"<footer>{controls}<p>{_both(f'服务热线 {HOTLINE}', f'Service line {HOTLINE}')}</p></footer>"
        f"{_REFRESH_SCRIPT if refresh else ''}</body></html>"
    )


_REFRESH_SCRIPT = """<script>
(function () {
  "use strict";
  var timer = null, pause = document.getElementById("pause");
  function plan() {
    var main = document.querySelector("main"), wait = Number(main.dataset.refresh || 0);
    if (!wait) { pause.hidden = true; document.getElementById("refresh-note").hidden = true; return; }
    timer = setTimeout(update, wait * 1000);
  }
  function update() {
    fetch(location.href, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { return r.text(); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("main");
        if (fresh) document.querySelector("main").replaceWith(fresh);
        plan();
      })
      .catch(plan);
  }
  pause.addEventListener("click", function () {
    clearTimeout(timer); timer = null; pause.hidden = true;
    document.getElementById("refresh-note").textContent = "已暂停自动更新。 Refreshing stopped.";
  });
  plan();
})();
</script>"""


async def citizen_page(request: web.Request) -> web.Response:
    reader = request.app[READER]
    ticket_id = request.match_info["ticket_id"]
    record = await reader.read(ticket_id)
    doc = None
    if record is not None:
        # A page opened from a link carries no token; the portal may fetch it with the citizen's.
        owner, _ = await request.app[OWNERS].proves(request, record)
        doc = await ticket_document(record, reader.eta, owner=owner)
    return web.Response(
        text=render(doc, record, ticket_id, request.app[PAGE_TIMEZONE]),
        status=200 if doc else 404,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store"},
    )
