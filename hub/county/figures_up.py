"""What a township tells its county besides the cases it passes up: its daily figures and its alerts.

Both go up the uplink as events of their own (``township.figures``, ``township.alert``, declared in
shared/messages.py) and carry numbers and receipt codes only: the county does not handle those
matters, so it gets no names, ID numbers or phones. The township queues them with the county
round (hub/county/uplink.sync): the figures of each finished day once, with the cases overdue at
its end; a village log seen forked when the township first records it. The county stores each
under (township, day[, kind, village]) and a resend of the same day replaces what it holds, so a
township that sends a day twice never doubles it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec

from shared import messages, states

from .. import audit, deadlines, figures
from ..clock import now, today
from ..models import Case, ForkAlert, Node, TownshipAlert, TownshipFigures, Village

FIGURES, ALERT = "township.figures", "township.alert"
REPORTED_DAY = "county_reported_day"  # uplink meta: the last finished day whose figures are queued
FORKS_SEEN = "county_forks_seen"  # uplink meta: the last ForkAlert row the county was told of
MAX_CODES = 500
BACKFILL_DAYS = 31


class ReportRefusal(Exception):
    """A township report the county cannot take, with a protocol code and a sentence for the township."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- at the township: what goes up ----------------------------------------------------------------


def day_lines(day: date, rows: list[figures.CaseRow] | None = None) -> list[dict[str, Any]]:
    """Per item and village on a day: received, closed, closed on time, and open past due at its end."""
    cal = deadlines.calendar()
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    for row in figures.load_rows(None, day) if rows is None else rows:
        if row.received_on > day:
            continue
        _, overdue = figures.measure(row, cal, day)
        received = row.received_on == day
        closed = row.state in figures.COMPLETED and row.closed_on == day
        if not (received or closed or overdue):
            continue
        line = lines.setdefault(
            (row.item_code, row.village),
            {
                "item_code": row.item_code,
                "village": row.village,
                "received": 0,
                "closed": 0,
                "on_time": 0,
                "overdue": 0,
            },
        )
        line["received"] += int(received)
        line["closed"] += int(closed)
        line["on_time"] += int(closed and _on_time(row))
        line["overdue"] += int(overdue)
    return [lines[k] for k in sorted(lines)]


def _on_time(row: figures.CaseRow) -> bool:
    return row.deadline is None or (row.closed_on is not None and row.closed_on <= row.deadline)


def overdue_codes(day: date) -> dict[str, list[str]]:
    """Receipt codes of the cases open and past due at the end of the day, per village."""
    cal = deadlines.calendar()
    out: dict[str, list[str]] = {}
    rows = (
        Case.select(Case, Village)
        .join(Village)
        .where(Case.deadline.is_null(False) & Case.state.not_in(list(states.TERMINAL)) & (Case.received_on <= day))
        .order_by(Case.deadline, Case.receipt_code)
    )
    for case in rows:
        if deadlines.clock(case, cal, day).overdue:
            out.setdefault(case.village.name, []).append(case.receipt_code)
    return out


def queue_reports(on: date | None = None) -> int:
    """Queue the last finished day's figures and overdue alerts, and any new fork, each once (uplink bound)."""
    from node import meta
    from node.capture import append_event
    from node.db import database

    queued = 0
    day = (on or today()) - timedelta(days=1)
    # Days missed while the scheduler was stopped are sent too, up to BACKFILL_DAYS back.
    last = meta.get(REPORTED_DAY)
    first = max(date.fromisoformat(last) + timedelta(days=1), day - timedelta(days=BACKFILL_DAYS)) if last else day
    if first <= day:
        rows = figures.load_rows(None, day)
        with database.atomic():
            for n in range((day - first).days + 1):
                missed = (first + timedelta(days=n)).isoformat()
                data = {"day": missed, "lines": day_lines(first + timedelta(days=n), rows)}
                append_event(FIGURES, f"figures-{missed}", "system", checked(data, messages.TownshipFiguresData))
                queued += 1
            # Overdue is news on the day: only the last finished day's cases go up as alerts.
            for village, codes in sorted(overdue_codes(day).items()):
                alert: dict[str, Any] = {"day": day.isoformat(), "kind": "overdue", "village": village}
                alert.update(count=len(codes), receipt_codes=codes[:MAX_CODES])
                append_event(ALERT, f"overdue-{day.isoformat()}", "system", checked(alert, messages.TownshipAlertData))
                queued += 1
            meta.put(REPORTED_DAY, day.isoformat())
    seen = int(meta.get(FORKS_SEEN, 0))
    new = list(ForkAlert.select(ForkAlert, Node).join(Node).where(ForkAlert.id > seen).order_by(ForkAlert.id))
    if new:
        on_day = (on or today()).isoformat()
        with database.atomic():
            for village in sorted({fork.node.village.name for fork in new}):
                count = (
                    ForkAlert.select()
                    .join(Node)
                    .join(Village)
                    .where((Village.name == village) & ~ForkAlert.resolved)
                    .count()
                )
                fork: dict[str, Any] = {"day": on_day, "kind": "fork", "village": village, "count": count}
                append_event(ALERT, f"fork-{on_day}", "system", checked(fork, messages.TownshipAlertData))
                queued += 1
            meta.put(FORKS_SEEN, new[-1].id)
    return queued


def checked(data: dict[str, Any], kind: type[msgspec.Struct]) -> dict[str, Any]:
    """What we send fits what the county will check (a bug here, not the county, should say so)."""
    messages.convert(data, kind)
    return data


# --- at the county: what comes in -----------------------------------------------------------------


def _day(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ReportRefusal("bad_report", "上报日期不是有效日期") from None


def receive_figures(node: Node, ev: dict[str, Any]) -> None:
    """Store a township's figures for a day, replacing any it sent for that day before (batch transaction held)."""
    try:
        data = messages.convert(ev["data"], messages.TownshipFiguresData)
    except messages.MessageError as exc:
        raise ReportRefusal("bad_report", f"乡镇统计数据不符合规定（{exc.field or '内容'}）") from exc
    day = _day(data.day)
    keys = {(line.item_code, line.village) for line in data.lines}
    if len(keys) != len(data.lines):
        raise ReportRefusal("bad_report", "乡镇统计数据中同一事项同一村出现两次")
    if any(line.on_time > line.closed for line in data.lines):
        raise ReportRefusal("bad_report", "乡镇统计数据中按时办结数多于办结数")
    township = node.village
    TownshipFigures.delete().where((TownshipFigures.township == township) & (TownshipFigures.day == day)).execute()
    for line in data.lines:
        TownshipFigures.create(township=township, day=day, **msgspec.structs.asdict(line))


def receive_alert(node: Node, ev: dict[str, Any]) -> None:
    """Store a township's alert (the last word for its day, kind and village) and tell the county's supervisor."""
    try:
        data = messages.convert(ev["data"], messages.TownshipAlertData)
    except messages.MessageError as exc:
        raise ReportRefusal("bad_report", f"乡镇预警内容不符合规定（{exc.field or '内容'}）") from exc
    day = _day(data.day)
    township = node.village
    fields = {"count": data.count, "receipt_codes": list(data.receipt_codes), "received_at": now()}
    row = TownshipAlert.get_or_none(
        (TownshipAlert.township == township)
        & (TownshipAlert.day == day)
        & (TownshipAlert.kind == data.kind)
        & (TownshipAlert.village == data.village)
    )
    if row is None:
        TownshipAlert.create(township=township, day=day, kind=data.kind, village=data.village, **fields)
    else:
        TownshipAlert.update(**fields).where(TownshipAlert.id == row.id).execute()
    audit.record(
        node.node_id,
        "county.township_alert",
        township.name,
        {"kind": data.kind, "village": data.village, "day": data.day, "count": data.count},
    )


def recent_alerts(days: int = 7, on: date | None = None) -> list[TownshipAlert]:
    """The townships' alerts of the last days with anything in them, newest first (the county fleet page)."""
    since = (on or today()) - timedelta(days=days)
    return list(
        TownshipAlert.select(TownshipAlert, Village)
        .join(Village)
        .where((TownshipAlert.day >= since) & (TownshipAlert.count > 0))
        .order_by(TownshipAlert.day.desc(), Village.name, TownshipAlert.kind, TownshipAlert.village)
    )
