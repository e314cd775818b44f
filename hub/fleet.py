"""The fleet of village nodes: health, enrolment codes (with QR), revocation, fork and silence alerts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for

from . import audit, restores
from .auth import current_user, login_required
from .clock import now
from .db import database
from .enrolment import VillageLimitError, issue_code, revoke
from .keys import hub_fingerprint
from .models import ForkAlert, Node, Village
from flask_babel import gettext as _

bp = Blueprint("fleet", __name__, url_prefix="/fleet")

SILENT_DAYS_DEFAULT = 3
# Beyond this the node's printed receipt times are visibly wrong: worth a phone call to the village.
CLOCK_SKEW_S = 300
MAX_CODE_HOURS = 168
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f<>]")


class FleetError(ValueError):
    """A fleet request that cannot be done, with a sentence for the supervisor."""


@dataclass(frozen=True)
class Alert:
    """Something about a node the supervisor must look at."""

    kind: str  # fork | silent | never | clock | revoked
    village: str
    message: str
    since: datetime | None
    fork_id: int | None = None


def silent_days() -> int:
    """How many days without a sync make a node 'silent' (config SILENT_NODE_DAYS)."""
    return int(current_app.config.get("SILENT_NODE_DAYS", SILENT_DAYS_DEFAULT))


def fleet_rows() -> list[dict[str, Any]]:
    """Every village with its node (if any), as the fleet table shows it."""
    rows = []
    for village in Village.select().order_by(Village.prefix):
        node = Node.get_or_none(Node.village == village)
        rows.append(
            {
                "village": village.name,
                "prefix": village.prefix,
                "node": node,
                "updates_waiting": max(node.out_seq - node.reported_cursor, 0) if node else 0,
                "open_forks": ForkAlert.select().where((ForkAlert.node == node) & (ForkAlert.resolved == False)).count()
                if node
                else 0,
            }
        )
    return rows


def alerts(days: int, at: datetime | None = None) -> list[Alert]:
    """Unresolved forks, active nodes silent for more than `days` or never heard from, and skewed clocks."""
    at = at or now()
    out: list[Alert] = []
    for fork in (
        ForkAlert.select(ForkAlert, Node, Village)
        .join(Node)
        .join(Village)
        .where(ForkAlert.resolved == False)
        .order_by(ForkAlert.at.desc())
    ):
        out.append(
            Alert(
                "fork",
                fork.node.village.name,
                _(
                    "序号 %(first_seq)s–%(last_seq)s 出现内容不同的重复批次（记录可能在打印回执后被改动）",
                    first_seq=fork.first_seq,
                    last_seq=fork.last_seq,
                ),
                fork.at,
                fork.id,
            )
        )
    limit = at - timedelta(days=days)
    for node in Node.select(Node, Village).join(Village).where(Node.status == "active"):
        if node.last_sync_at is None:
            if node.enrolled_at < limit:
                out.append(
                    Alert("never", node.village.name, _("注册后超过 %(days)s 天从未同步", days=days), node.enrolled_at)
                )
        elif node.last_sync_at < limit:
            quiet = (at - node.last_sync_at).days
            out.append(
                Alert(
                    "silent",
                    node.village.name,
                    _("已 %(quiet)s 天未同步（超过 %(days)s 天）", quiet=quiet, days=days),
                    node.last_sync_at,
                )
            )
        if node.clock_offset_s is not None and abs(node.clock_offset_s) > CLOCK_SKEW_S:
            way = _("快") if node.clock_offset_s > 0 else _("慢")
            out.append(
                Alert(
                    "clock",
                    node.village.name,
                    _(
                        "电脑时钟%(way)s了约 %(clock_offset_s)s 分钟，请校准（记录以序号为准，不受影响）",
                        way=way,
                        clock_offset_s=abs(node.clock_offset_s) // 60,
                    ),
                    node.last_sync_at,
                )
            )
    out += _revoked_attempts(limit)
    return out


def _revoked_attempts(since: datetime) -> list[Alert]:
    """Revoked keys that still signed a message lately (hub/nodeauth.note_revoked_attempt), the last try each."""
    from .models import AuditEntry
    from .nodeauth import REVOKED_ATTEMPT

    last: dict[str, AuditEntry] = {}
    for entry in AuditEntry.select().where((AuditEntry.action == REVOKED_ATTEMPT) & (AuditEntry.at > since)):
        if entry.target not in last or entry.at > last[entry.target].at:
            last[entry.target] = entry
    return [
        Alert("revoked", name, _("已注销的密钥仍在尝试同步（设备可能丢失或被盗，请核实）"), entry.at)
        for name, entry in sorted(last.items())
    ]


def check_village_name(name: str) -> str:
    """A usable village name, or FleetError."""
    name = name.strip()
    if not name:
        raise FleetError(_("请填写行政村名称"))
    if len(name) > 100 or _BAD_NAME.search(name):
        raise FleetError(_("行政村名称不能超过 100 个字，也不能含控制字符或尖括号"))
    return name


def new_code(village_name: str, hours: int, actor: str) -> str:
    """Issue a code for a village with no active node (first PC, or a replacement after revocation)."""
    name = check_village_name(village_name)
    if not 1 <= hours <= MAX_CODE_HOURS:
        raise FleetError(_("有效期应在 1 到 %(MAX_CODE_HOURS)s 小时之间", MAX_CODE_HOURS=MAX_CODE_HOURS))
    node = Node.select().join(Village).where(Village.name == name).first()
    if node is not None and node.status == "active":
        raise FleetError(_("%(name)s 的代办点仍在使用；更换电脑须先停用旧的代办点", name=name))
    try:
        return issue_code(name, timedelta(hours=hours), actor=actor)
    except VillageLimitError as exc:
        raise FleetError(str(exc)) from exc


def qr_data_uri(text: str) -> str:
    """The text as a QR code, a data: URI the page can show without any script."""
    import segno  # only when a page shows one (about 18 ms to import), as counter_views does

    return segno.make(text, error="m").svg_data_uri(scale=5, border=2)


def enrol_link(hub_url: str, code: str) -> str:
    """What the QR code carries: the hub to enrol with and the one-time code."""
    return f"daiban-enrol:{hub_url.rstrip('/')}#{code}"


def _render(**extra: Any) -> Any:
    days = silent_days()
    return render_template(
        "fleet/index.html",
        rows=fleet_rows(),
        alerts=alerts(days),
        silent_days=days,
        max_hours=MAX_CODE_HOURS,
        restores=restore_rows(),
        hub_fingerprint=hub_fingerprint(),
        townships=_township_lines(),
        county_link=county_link(),
        township_alerts=_township_alerts(),
        **extra,
    )


def county_link() -> dict[str, Any] | None:
    """At a township enrolled with a county: the link's state and the county answers it could not record."""
    from .county import level, uplink

    data_dir = current_app.config["DATA_DIR"]
    if level.is_county() or not uplink.enrolled(data_dir):
        return None
    return {
        **uplink.status(data_dir),
        "refused": audit.recent(limit=20, action=uplink.REFUSED_ACTION),
    }


def _township_alerts() -> list[Any] | None:
    """At a county hub: what the townships reported overdue or forked in the last week."""
    from .county import level
    from .county.figures_up import recent_alerts

    return recent_alerts() if level.is_county() else None


def _township_lines() -> dict[str, Any] | None:
    """At a county hub: each township's passed-up cases waiting, overdue and answered on time."""
    from .county import level
    from .county.queue import township_lines

    return township_lines() if level.is_county() else None


RESTORE_WORDS = {
    "restore": "中心数据库从备份恢复",
    "promoted": "切换到备用数据库",
    "rewound": "发现中心数据比代办点已收到的旧",
}


def restore_rows() -> list[dict[str, Any]]:
    """Restores and what each village sent again after them, newest first, for the fleet page."""
    out = []
    for e in restores.recent():
        d = e.detail or {}
        if e.action == "hub.epoch":
            what = RESTORE_WORDS.get(e.target, e.target) + (f"（{d['backup']}）" if d.get("backup") else "")
            village = _("全部代办点将重新核对办理状态")
        elif e.action == "sync.lost_tail":
            what = _(
                "中心缺少该村第 %(first_seq)s–%(last_seq)s 条记录，已请其重新上传",
                first_seq=d.get("first_seq"),
                last_seq=d.get("last_seq"),
            )
            village = e.target
        else:
            codes = d.get("receipt_codes") or []
            what = _(
                "重新上传第 %(first_seq)s–%(last_seq)s 条（%(events)s 条记录）",
                first_seq=d.get("first_seq"),
                last_seq=d.get("last_seq"),
                events=d.get("events", 0),
            ) + (_("，回执码 %(codes)s", codes="、".join(codes)) if codes else "")
            village = e.target
        out.append({"at": e.at, "village": village, "what": what, "kind": e.action})
    return out


@bp.get("/")
@login_required("supervisor")
def index() -> Any:
    """The fleet table, alerts and the enrolment form."""
    return _render(code=None)


@bp.post("/code")
@login_required("supervisor")
def code() -> Any:
    """Issue a one-time enrolment code and show it with its QR code (shown once, never stored)."""
    user = current_user()
    village = request.form.get("village", "")
    try:
        hours = int(request.form.get("hours", "24"))
        issued = new_code(village, hours, user.username)
    except ValueError as exc:
        message = str(exc) if isinstance(exc, FleetError) else _("有效期必须是整数小时")
        audit.record(user.username, "node.code_refused", village.strip()[:100], {"reason": message})
        return _render(code=None, error=message), 400
    link = enrol_link(request.host_url, issued)
    resp = make_response(
        _render(
            code={"village": village.strip(), "code": issued, "qr": qr_data_uri(link), "link": link, "hours": hours}
        )
    )
    # A live one-time code must not linger in a browser or proxy cache.
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/revoke")
@login_required("supervisor")
def revoke_node() -> Any:
    """Revoke a village's node key at once; the typed village name confirms it."""
    user = current_user()
    village = request.form.get("village", "").strip()
    if request.form.get("confirm", "").strip() != village:
        return _render(code=None, error=_("请在确认框中输入该行政村名称以确认停用")), 400
    node = Node.select().join(Village).where(Village.name == village).first()
    if node is None:
        return _render(code=None, error=_("没有找到 %(village)s 的代办点", village=village)), 404
    if node.status == "revoked":
        return _render(code=None, error=_("%(village)s 的代办点已经停用", village=village)), 409
    revoke(village, actor=user.username)
    flash(
        _(
            "已停用 %(village)s 的代办点（密钥指纹 %(fingerprint)s）；可为替换电脑签发新注册码",
            village=village,
            fingerprint=node.fingerprint,
        )
    )
    return redirect(url_for("fleet.index"))


@bp.post("/forks/<int:fork_id>/resolve")
@login_required("supervisor")
def resolve_fork(fork_id: int) -> Any:
    """Mark a fork alert as looked into."""
    user = current_user()
    with database.atomic():
        fork = ForkAlert.get_or_none(ForkAlert.id == fork_id)
        if fork is None or fork.resolved:
            return _render(code=None, error=_("该告警不存在或已处理")), 404
        fork.resolved = True
        fork.save()
        audit.record(
            user.username,
            "node.fork_resolved",
            fork.node.village.name,
            {"first_seq": fork.first_seq, "last_seq": fork.last_seq},
        )
    flash(_("已标记为已处理"))
    return redirect(url_for("fleet.index"))
