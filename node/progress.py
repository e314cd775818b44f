"""How far the long work of this process has got: a sync round, a USB bundle export or import.

A sync after a week offline takes minutes over 2G; the clerk must see what is done, what
remains and about how long. One operation runs at a time per process (they share the sync
lock), so one tracker per process is enough: the sync page reads it, `daiban node sync` prints
it as a line. Kept in memory only: after a restart there is nothing running to report.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from flask import has_request_context
from flask_babel import gettext

from shared import protocol


def _(text: str, **values: object) -> str:
    """The page's language on a page; Chinese in the terminal and background threads (no request there)."""
    return gettext(text, **values) if has_request_context() else text % values


KINDS = ("sync", "export", "import")

_lock = threading.Lock()
_current: "Progress | None" = None
_last: dict[str, "Progress"] = {}
_listeners: list[Callable[["Progress"], None]] = []


@dataclass(frozen=True)
class Progress:
    """One operation: records and bytes up, updates down, counted as they complete."""

    kind: str
    started: float  # time.monotonic()
    started_at: str  # ISO UTC, for the page
    records_total: int = 0
    records_done: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    updates_done: int = 0
    updates_left: int = 0  # as the hub last said (its log head minus our cursor)
    updates_known: bool = False  # the hub has been asked this time (a round uploads first, then asks)
    finished: float | None = None
    error: str | None = None
    step: str = field(default="")

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def records_left(self) -> int:
        return max(self.records_total - self.records_done, 0)

    @property
    def bytes_left(self) -> int:
        return max(self.bytes_total - self.bytes_done, 0)

    def elapsed(self, now: float | None = None) -> float:
        return max((self.finished or now or time.monotonic()) - self.started, 0.0)

    def estimate_seconds(self, now: float | None = None) -> int | None:
        """Seconds still needed at the pace so far; None until something is done or when nothing remains."""
        done = self.records_done + self.updates_done
        left = self.records_left + self.updates_left
        elapsed = self.elapsed(now)
        if not self.running or left == 0 or done == 0 or elapsed <= 0:
            return None
        return int(round(left * elapsed / done))


def duration(seconds: float | int | None) -> str:
    """12 秒 / 3 分 20 秒 / 1 小时 5 分, in the clerk's words."""
    if seconds is None:
        return ""
    s = max(int(seconds), 0)
    if s < 60:
        return _("%(n)s 秒", n=s)
    if s < 3600:
        return _("%(m)s 分 %(s)s 秒", m=s // 60, s=s % 60)
    return _("%(h)s 小时 %(m)s 分", h=s // 3600, m=s % 3600 // 60)


def size(n: int) -> str:
    """Bytes as the clerk reads them."""
    if n < 10 * 1024:
        return f"{n} B"
    if n < 10 * 1024 * 1024:
        return f"{n // 1024} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def line(p: Progress) -> str:
    """One line for the terminal or the page."""
    parts = (
        [
            _(
                "已上传 %(done)s / %(total)s 条记录（%(bd)s / %(bt)s）",
                done=p.records_done,
                total=p.records_total,
                bd=size(p.bytes_done),
                bt=size(p.bytes_total),
            )
        ]
        if p.kind == "sync"
        else [
            _(
                "已处理 %(done)s / %(total)s 条记录（%(bd)s / %(bt)s）",
                done=p.records_done,
                total=p.records_total,
                bd=size(p.bytes_done),
                bt=size(p.bytes_total),
            )
        ]
    )
    if p.kind != "export":
        parts.append(
            _("收到状态更新 %(n)s 条", n=p.updates_done)
            + (_("，还有 %(n)s 条", n=p.updates_left) if p.updates_left else "")
            if p.updates_known or not p.running
            else _("上传完后接收状态更新")
        )
    parts.append(_("用时 %(t)s", t=duration(p.elapsed())))
    eta = p.estimate_seconds()
    if eta is not None:
        parts.append(_("预计还需 %(t)s", t=duration(eta)))
    return _("，").join(parts)


def queued_totals() -> tuple[int, int]:
    """Records waiting to reach the hub and their stored size in bytes (the page and the round agree)."""
    from peewee import fn

    from .models import Event

    count, nbytes = (
        Event.select(fn.COUNT(Event.id), _stored_bytes(Event.data))
        .where(Event.result.is_null() & ~Event.quarantined)
        .scalar(as_tuple=True)
    )
    return int(count or 0), int(nbytes or 0)


def _stored_bytes(column: Any) -> Any:
    """SQL for the summed size of a text column in bytes.

    As a blob: SQLite's LENGTH of text counts characters, walking every byte of every row (10 ms
    for 10,000 queued captures, at the start of every round and on every sync panel); of a blob it
    counts bytes, the figure the page shows (a size), at half the cost.
    """
    from peewee import fn

    return fn.COALESCE(fn.SUM(fn.LENGTH(column.cast("BLOB"))), 0)


def batch_totals(batch_id: int) -> tuple[int, int]:
    """Records in one signed batch and their stored size, counted like queued_totals."""
    from peewee import fn

    from .models import Event

    count, nbytes = (
        Event.select(fn.COUNT(Event.id), _stored_bytes(Event.data)).where(Event.batch == batch_id).scalar(as_tuple=True)
    )
    return int(count or 0), int(nbytes or 0)


def _publish(p: Progress) -> None:
    global _current
    with _lock:
        _current = p if p.running else None
        if not p.running:
            _last[p.kind] = p
        listeners = list(_listeners)
    for listener in listeners:
        listener(p)


def begin(kind: str, records: int = 0, nbytes: int = 0, step: str = "") -> None:
    """An operation starts with this much to do (records and bytes to send or process)."""
    _publish(
        Progress(
            kind,
            time.monotonic(),
            protocol.iso(protocol.utcnow()),
            records_total=records,
            bytes_total=nbytes,
            step=step,
        )
    )


def _change(**changes: object) -> None:
    p = _current
    if p is not None:
        _publish(replace(p, **changes))  # type: ignore[arg-type]


def advance(records: int = 0, nbytes: int = 0) -> None:
    """Records (and their bytes) done."""
    p = _current
    if p is not None:
        # A resend after the hub lost events is work found after the start: the total grows with it.
        _change(
            records_done=p.records_done + records,
            bytes_done=p.bytes_done + nbytes,
            records_total=max(p.records_total, p.records_done + records),
            bytes_total=max(p.bytes_total, p.bytes_done + nbytes),
        )


def more_work(records: int) -> None:
    """Records to process, learnt after the start (an import knows them once the bundle is open)."""
    p = _current
    if p is not None:
        _change(records_total=p.records_total + records)


def received(updates: int, left: int) -> None:
    """Status updates applied, and how many the hub still holds for us."""
    p = _current
    if p is not None:
        _change(updates_done=p.updates_done + updates, updates_left=max(left, 0), updates_known=True)


def polled(resp: dict[str, object], updates: int) -> None:
    """After a poll applied `updates`: what the hub's log head (out_seq) says is still to come."""
    from . import meta

    head = resp.get("out_seq")
    received(updates, int(head) - int(meta.get("cursor", 0)) if isinstance(head, int) else 0)


def finish(error: str | None = None) -> None:
    """The operation ended (error: why it stopped)."""
    p = _current
    if p is not None:
        _publish(
            replace(p, finished=time.monotonic(), error=error, updates_left=0 if error is None else p.updates_left)
        )


def reset() -> None:
    """Forget every operation (a new app in this process starts with nothing running or done)."""
    global _current
    with _lock:
        _current = None
        _last.clear()


def current() -> Progress | None:
    """The operation running now, if any."""
    return _current


def last(kind: str) -> Progress | None:
    """The last finished operation of this kind in this process."""
    return _last.get(kind)


def terminal_printer(write: Callable[[str], None], is_tty: bool, every: float = 1.0) -> Callable[[Progress], None]:
    """A listener printing the progress line: redrawn in place on a terminal, a line per `every` seconds in a log."""
    shown = {"at": 0.0}

    def show(p: Progress) -> None:
        moment = time.monotonic()
        if p.running and moment - shown["at"] < every:
            return
        shown["at"] = moment
        text = line(p)
        write(("\r" + text + "\x1b[K" + ("" if p.running else "\n")) if is_tty else text + "\n")

    return show


def listen(callback: Callable[[Progress], None]) -> Callable[[], None]:
    """Call back on every change (the CLI prints a line); returns the function that stops it."""
    with _lock:
        _listeners.append(callback)

    def stop() -> None:
        with _lock:
            if callback in _listeners:
                _listeners.remove(callback)

    return stop
