"""`daiban hub …` commands: init, migrate, run, enroll-code, revoke, act, add-user, duty, reassign, register, figures."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask

from shared import states
from shared.cli import AppInfo, app_info, own_process, with_app, without_postgres_drivers
from shared.cli_i18n import CliWords
from shared.msgid import N_, joined, listed

_ = CliWords("hub")


def _factory(data_dir: str | None = None, pages: bool = True) -> Flask:
    from . import create_app, create_core_app

    return (create_app if pages else create_core_app)(data_dir=data_dir)


def _app() -> Flask:
    """The app for this command's --dir. Commands use @with_app; this stays for branches written
    before it (delete once none calls it)."""
    return app_info().load_app()


@click.group(name="hub")
@click.option("--dir", "data_dir", envvar="DAIBAN_HUB_DIR", help="数据目录（密钥、SQLite 数据库）")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None) -> None:
    """乡镇中心（hub）管理命令。"""
    if own_process() and not _postgres_configured():
        without_postgres_drivers()  # before hub.db imports peewee
    from .db import database

    ctx.obj = AppInfo("hub", _factory, database, data_dir)


def _postgres_configured() -> bool:
    """Whether anything this command's app reads its DATABASE_URL from is there (hub.create_core_app):
    the environment, or a config.py in the instance folder. Without any, the database is SQLite."""
    if os.environ.get("DATABASE_URL") or os.environ.get("DAIBAN_HUB_DATABASE_URL"):
        return True
    return (Path(Flask("hub", instance_relative_config=True).instance_path) / "config.py").exists()


@cli.command()
@click.option(
    "--level",
    type=click.Choice(["township", "county"]),
    help="中心级别：township 乡镇中心（默认），county 县级中心（接收各乡镇报县级的事项）",
)
@with_app()
def init(app: Flask, level: str | None) -> None:
    """Create the hub key and database (safe to run twice); --level county starts a county hub."""
    from .county import level as hub_level
    from .keys import key_path
    from .schema import migrate
    from shared import signing

    before, after = migrate()
    if level is not None:
        try:
            hub_level.choose(level)
        except ValueError as exc:
            raise click.ClickException(_("本中心已初始化为 %(old)s 级别，不能改为 %(new)s", old=str(exc), new=level))
    click.echo(_("中心级别：%(level)s", level=_("县级中心") if hub_level.is_county() else _("乡镇中心")))
    pub = signing.public_b64(app.extensions["daiban_hub_key"])
    click.echo(
        _(
            "中心已初始化：%(dir)s（数据库结构版本 %(before)s → %(after)s）",
            dir=app.config["DATA_DIR"],
            before=before,
            after=after,
        )
    )
    click.echo(
        _(
            "中心密钥指纹：%(fingerprint)s  密钥文件：%(path)s",
            fingerprint=signing.fingerprint(pub),
            path=str(key_path(app.config["DATA_DIR"])),
        )
    )


@cli.command()
@with_app(connect=False)
def doctor(app: Flask) -> None:
    """Check database, keys, scheduler, working calendar and disk; say what to fix."""
    from pathlib import Path

    from shared.doctor import report

    from .doctor import run_checks

    # Each check opens its own connection, so a database that cannot be reached is itself a finding.
    sys.exit(report(run_checks(Path(app.config["DATA_DIR"])), say=_))


@cli.command(name="migrate")
@with_app()
def migrate_cmd(app: Flask) -> None:
    """Bring the database schema up to date (safe to run twice)."""
    from .schema import migrate

    before, after = migrate()
    click.echo(_("数据库结构版本 %(before)s → %(after)s", before=before, after=after))


@cli.command(name="rotate-key")
@click.confirmation_option(prompt="轮换中心密钥？轮换后请重启中心服务", help="不询问，直接轮换")
@with_app()
def rotate_key(app: Flask) -> None:
    """Replace the hub key; nodes take up the new one from a statement signed by the old key."""
    from shared import signing

    from .keys import rotate

    old, new = rotate(app.config["DATA_DIR"])
    click.echo(_("中心密钥已轮换：%(old)s → %(new)s", old=signing.fingerprint(old), new=signing.fingerprint(new)))
    click.echo(_("请重启中心服务（systemctl restart daiban-hub）；各代办点下次同步时自动换用新密钥。"))


@cli.command()
@click.option("--sweep-minutes", type=click.IntRange(1, 1440), help="期限巡检间隔（分钟，默认 15）")
@click.option("--figures-hour", type=click.IntRange(0, 23), help="每日统计时刻（北京时间，默认 1 点）")
@click.option("--standby", is_flag=True, help="租约被占用时等待接管，而不是退出（PostgreSQL，多台机器时用）")
@with_app(connect=False, pages=True)
def scheduler(app: Flask, sweep_minutes: int | None, figures_hour: int | None, standby: bool) -> None:
    """Run the hub's scheduled jobs (deadline sweep, daily figures, heartbeat, nightly backup); one per hub."""
    from .scheduler import AlreadyRunning, LeaseLost, run as run_scheduler

    if sweep_minutes:
        app.config["SCHEDULER_SWEEP_SECONDS"] = sweep_minutes * 60
    if figures_hour is not None:
        app.config["SCHEDULER_FIGURES_HOUR"] = figures_hour
    click.echo(_("中心调度进程已启动（pid %(pid)s）", pid=os.getpid()))
    try:
        run_scheduler(app, standby=standby)
    except (AlreadyRunning, LeaseLost) as exc:
        click.echo(_(exc), err=True)
        sys.exit(3)
    except KeyboardInterrupt:
        pass


@cli.command(name="backup")
@click.option("--keep", default=14, show_default=True, help="保留最近几份备份")
@click.option("--out", "out_dir", help="备份目录（默认 数据目录/backups）")
@with_app(connect=False)
def backup_cmd(app: Flask, keep: int, out_dir: str | None) -> None:
    """Take a consistent backup of the hub database (SQLite online backup or pg_dump)."""
    from .backup import BackupError, backup

    try:
        path = backup(app.config["DATA_DIR"], app.config.get("DATABASE_URL"), keep=keep, out_dir=out_dir)
    except BackupError as exc:
        raise click.ClickException(_(exc))
    click.echo(_("已备份：%(path)s", path=str(path)))


@cli.command(name="restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--new-key", is_flag=True, help="中心密钥已丢失：生成新密钥（之后各代办点须重新注册）")
def restore_cmd(backup_file: str, new_key: bool) -> None:
    """Restore a backup into this hub's (empty) database, then run migrations."""
    from .backup import BackupError, restore
    from .db import database
    from .keys import key_path
    from .schema import migrate

    info = app_info()
    data_dir = info.resolved_dir()
    if not key_path(data_dir).exists() and not new_key:
        raise click.ClickException(
            _(
                "数据目录中没有中心密钥 %(path)s：请先从密钥备份放回（否则各代办点无法验证中心）；"
                "确已丢失时加 --new-key，并按运维手册让各代办点重新注册",
                path=str(key_path(data_dir)),
            )
        )
    try:
        restore(data_dir, os.environ.get("DATABASE_URL"), backup_file)
    except BackupError as exc:
        raise click.ClickException(_(exc))
    from shared import signing

    app = info.load_app(pages=False)
    from .restores import new_epoch

    with app.app_context(), database.connection_context():
        before, after = migrate()
        # Nodes may hold decisions this backup never saw: a new epoch makes each one rebuild its copy.
        epoch = new_epoch("restore", "cli", {"backup": Path(backup_file).name})
    click.echo(
        _("已恢复：%(file)s（数据库结构版本 %(before)s → %(after)s）", file=backup_file, before=before, after=after)
    )
    click.echo(_("新的中心纪元：%(epoch)s（各代办点下次同步时与中心核对全部办理状态）", epoch=epoch))
    click.echo(
        _(
            "中心密钥指纹：%(fingerprint)s",
            fingerprint=signing.fingerprint(signing.public_b64(app.extensions["daiban_hub_key"])),
        )
    )


@cli.command(name="new-epoch")
@click.confirmation_option(
    prompt="数据库是否刚从备份恢复或切换到备库？各代办点将与中心重新核对全部办理状态", help="不询问，直接执行"
)
@with_app()
def new_epoch_cmd(app: Flask) -> None:
    """After promoting a standby (or any loss of the database's tail): nodes rebuild their copy of the log."""
    from .restores import new_epoch

    epoch = new_epoch("promoted", "cli")
    click.echo(_("新的中心纪元：%(epoch)s（各代办点下次同步时与中心核对全部办理状态）", epoch=epoch))


@cli.command(name="enroll-code")
@click.option("--village", required=True, help="行政村名称")
@click.option("--hours", default=24, show_default=True, help="有效小时数")
@with_app()
def enroll_code(app: Flask, village: str, hours: int) -> None:
    """Issue a one-time enrolment code for a village."""
    from datetime import timedelta

    from .enrolment import VillageLimitError, issue_code

    try:
        code = issue_code(village, timedelta(hours=hours))
    except VillageLimitError as exc:
        raise click.ClickException(str(exc))
    click.echo(code)


@cli.command()
@click.option("--village", required=True)
@with_app()
def revoke(app: Flask, village: str) -> None:
    """Revoke the village's node key at once (stolen or replaced PC)."""
    from .enrolment import revoke as do_revoke

    try:
        node = do_revoke(village)
    except LookupError:
        raise click.ClickException(_("没有找到行政村：%(village)s", village=village))
    click.echo(_("已停用 %(village)s 的代办点（%(fingerprint)s）", village=village, fingerprint=node.fingerprint))


@cli.command()
@click.argument("receipt_code")
@click.argument("action", type=click.Choice(sorted(states.ACTIONS)))
@click.option("--missing", multiple=True, help="所缺材料编码（补正时，可多次）")
@click.option("--reason", help="理由（不予受理/不予批准时必填）")
@click.option("--basis", "legal_basis", help="法律依据（不予受理/不予批准时必填）")
@click.option("--note")
@click.option("--override", help="再次补正的理由（须以效能监督人员身份 --actor 执行）")
@click.option("--actor", default="cli")
@with_app()
def act(
    app: Flask,
    receipt_code: str,
    action: str,
    missing: tuple[str, ...],
    reason: str | None,
    legal_basis: str | None,
    note: str | None,
    override: str | None,
    actor: str,
) -> None:
    """Apply a case action (accept, ask_materials, refuse, approve, deny, to_county)."""
    from shared.receipt_codes import normalise

    from .cases import CaseError, act as do_act
    from .models import Staff

    # Acting as a named staff member means that person's window rules apply.
    staff = Staff.get_or_none(Staff.username == actor)
    try:
        case = do_act(
            normalise(receipt_code),
            action,
            actor,
            missing=list(missing),
            reason=reason,
            legal_basis=legal_basis,
            note=note,
            staff=staff,
            override=override,
        )
    except CaseError as exc:
        click.echo(_(exc.message), err=True)
        sys.exit(2)
    click.echo(f"{case.receipt_code}: {_(states.LABELS[case.state])}")


@cli.command(name="county-answer")
@click.argument("receipt_code")
@click.argument("answer", type=click.Choice(sorted(states.COUNTY_ANSWERS)))
@click.option("--doc-no", required=True, help="县级批复文号")
@click.option("--doc-date", required=True, help="县级批复日期，如 2026-03-18")
@click.option("--reason", help="县级不予批准的理由（不予批准时必填）")
@click.option("--note")
@click.option("--actor", default="cli")
@with_app()
def county_answer(
    app: Flask,
    receipt_code: str,
    answer: str,
    doc_no: str,
    doc_date: str,
    reason: str | None,
    note: str | None,
    actor: str,
) -> None:
    """Record the county's answer to a case passed up (报县级), from the county's document."""
    from shared.receipt_codes import normalise

    from .cases import CaseError, record_county_answer
    from .models import Staff

    staff = Staff.get_or_none(Staff.username == actor)
    try:
        case = record_county_answer(
            normalise(receipt_code),
            answer,
            actor,
            doc_no=doc_no,
            doc_date=doc_date,
            reason=reason,
            note=note,
            staff=staff,
        )
    except CaseError as exc:
        click.echo(_(exc.message), err=True)
        sys.exit(2)
    click.echo(f"{case.receipt_code}: {_(states.LABELS[case.state])}")


@cli.command(name="county-enroll")
@click.option("--county", "county_url", required=True, help="县级中心地址，如 http://127.0.0.1:8690")
@click.option("--code", required=True, help="县级中心发给本乡镇的一次性注册码")
@with_app()
def county_enroll(app: Flask, county_url: str, code: str) -> None:
    """Enrol this township hub with its county hub (one-time code, pinned county key), as a village node does."""
    from shared import signing

    from .county import uplink
    from node.transport import SyncError

    try:
        body = uplink.enrol(app.config["DATA_DIR"], county_url, code)
    except SyncError as exc:
        raise click.ClickException(_(exc.message))
    click.echo(_("已在县级中心注册：%(name)s", name=body["village"]))
    click.echo(_("县级中心密钥指纹：%(fp)s（请与县级核对）", fp=signing.fingerprint(body["hub_pubkey"])))


@cli.command(name="county-sync")
@with_app()
def county_sync(app: Flask) -> None:
    """One round with the county hub now: send the cases passed up, record the county's answers."""
    from .county import uplink
    from node.transport import SyncError

    try:
        report = uplink.sync(app.config["DATA_DIR"])
    except SyncError as exc:
        click.echo(_("与县级中心同步失败：%(message)s（%(code)s）", message=_(exc.message), code=exc.code), err=True)
        sys.exit(1)
    click.echo(_(report.summary()))
    for request_id, code, message in report.refused:
        click.echo(_("未录入 %(id)s：%(message)s（%(code)s）", id=request_id, message=_(message), code=code), err=True)


@cli.command(name="county-status")
@with_app(connect=False)
def county_status(app: Flask) -> None:
    """Where this township's link to its county hub stands: enrolled with whom, last sync, last error, queue."""
    from .county import uplink

    got = uplink.status(app.config["DATA_DIR"])
    if not got["enrolled"]:
        click.echo(_("本乡镇中心尚未在县级中心注册（daiban hub county-enroll --county URL --code 注册码）"))
        sys.exit(1)
    click.echo(_("已在县级中心注册：%(name)s（%(url)s）", name=got["name"], url=got["county_url"]))
    click.echo(_("最近一次成功同步：%(when)s", when=got["last_sync_ok"] or _("从未")))
    if got["last_error"]:
        click.echo(_("最近的错误：%(error)s", error=_(got["last_error"])))
    click.echo(_("待上传事件：%(count)s", count=got["queued"]))


@cli.command(name="county-export-bundle")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@with_app()
def county_export_bundle(app: Flask, file: str) -> None:
    """Write what a county-sync would send to an encrypted, signed bundle for the county hub (USB)."""
    from shared.bundle import BundleError

    from .county.bundles import export

    try:
        res = export(app.config["DATA_DIR"], file)
    except BundleError as exc:
        raise click.ClickException(_(exc.message))
    click.echo(
        _(
            "已导出给县级中心的数据包：%(file)s（批次 %(batches)s，事件 %(events)s，附件 %(attachments)s，%(kb)s KB）",
            file=file,
            batches=res.batches,
            events=res.events,
            attachments=res.attachments,
            kb=res.size // 1024 + 1,
        )
    )
    click.echo(_("请将文件拷贝到县级中心用 daiban hub import-bundle 导入，再把县级的回复包拿回本中心导入。"))


@cli.command(name="county-import-bundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_app()
def county_import_bundle(app: Flask, file: str) -> None:
    """Apply the county hub's reply bundle (USB) and record the county's answers, as a county-sync does."""
    from pathlib import Path

    from shared.bundle import BundleError

    from .county.bundles import import_reply

    try:
        got, report = import_reply(app.config["DATA_DIR"], Path(file).read_bytes())
    except BundleError as exc:
        if exc.code == "replayed":  # not a failure: the answers are recorded already
            click.echo(_(exc.message))
            return
        click.echo(_("导入失败：%(why)s", why=_(exc.message)), err=True)
        sys.exit(1)
    click.echo(_("已导入县级中心的回复包：%(summary)s", summary=_(report.summary())))
    for message in got.messages:
        click.echo(_("提示：%(message)s", message=_(message)))
    for request_id, code, message in report.refused:
        click.echo(_("未录入 %(id)s：%(message)s（%(code)s）", id=request_id, message=_(message), code=code), err=True)


@cli.command(name="county-queue")
@with_app()
def county_queue(app: Flask) -> None:
    """At a county hub: the cases townships passed up that wait for the county's answer, most urgent first."""
    from .county import level
    from .county.queue import waiting

    if not level.is_county():
        raise click.ClickException(_("本中心不是县级中心（县级中心用 daiban hub init --level county 初始化）"))
    rows = waiting()
    for w in rows:
        due = w.clock.due.isoformat() if w.clock.due else "-"
        late = _("（已超期）") if w.clock.overdue else ""
        click.echo(
            _(
                "%(code)s  %(township)s·%(village)s  %(item)s  报县级 %(on)s  办结期限 %(due)s%(late)s  初审意见：%(opinion)s",
                code=w.case.receipt_code,
                township=w.township,
                village=w.village,
                item=w.item_name,
                on=w.passed_up_on.isoformat(),
                due=due,
                late=late,
                opinion=w.opinion or "-",
            )
        )
    click.echo(_("待县级批复 %(count)s 件", count=len(rows)))


@cli.command(name="catalogue-defaults")
@click.option("--actor", default="cli")
@with_app()
def catalogue_defaults(app: Flask, actor: str) -> None:
    """Add the shipped default kinds, windows and items the catalogue lacks (what it has is kept)."""
    from .catalogue_admin import CatalogueEditError, add_defaults

    try:
        version, codes = add_defaults(actor)
    except CatalogueEditError as exc:
        click.echo(_(joined(exc.errors)), err=True)
        sys.exit(2)
    click.echo(
        _(
            "事项目录第 %(version)s 版：补充默认事项 %(count)s 个（%(codes)s），请在事项目录页逐项核对",
            version=version,
            count=len(codes),
            codes=listed(codes) if codes else "",
        )
    )


@cli.command(name="add-user")
@click.argument("username")
@click.option("--name", required=True, help="姓名")
@click.option("--role", type=click.Choice(["staff", "supervisor", "admin"]), default="staff", show_default=True)
@click.option("--windows", default="", help="负责窗口编码，逗号分隔，如 W05,W09")
@click.password_option(help="密码（至少 8 位）")
@with_app()
def add_user(app: Flask, username: str, name: str, role: str, windows: str, password: str) -> None:
    """Create a staff, supervisor or admin account."""
    from . import audit
    from .schema import migrate
    from .staff import StaffError, create_user

    migrate()
    try:
        user = create_user(username, name, password, role, [w for w in windows.split(",") if w])
    except StaffError as exc:
        raise click.ClickException(_(exc))
    taken = _pick_up_orphans(user.windows)
    audit.record("cli", "staff.created", user.username, {"role": role, "windows": list(user.windows or [])})
    made = _("已创建 %(name)s（%(username)s，%(role)s）", name=user.name, username=user.username, role=role)
    click.echo(made + (_("，接手无人负责的 %(count)s 件", count=taken) if taken else ""))


@cli.command(name="set-password")
@click.argument("username")
@click.password_option(help="新密码（至少 8 位）")
@with_app()
def set_password_cmd(app: Flask, username: str, password: str) -> None:
    """Give a staff member a new password; every session they have open ends."""
    from . import audit
    from .models import Staff
    from .staff import StaffError, set_password

    user = Staff.get_or_none(Staff.username == username)
    if user is None:
        raise click.ClickException(_("没有这个工作人员：%(username)s", username=username))
    try:
        set_password(user, password)
    except StaffError as exc:
        raise click.ClickException(_(exc)) from exc
    audit.record("cli", "staff.password_set", user.username)
    click.echo(_("已为 %(name)s 设置新密码，其已登录的会话全部失效", name=user.name))


@cli.command(name="disable-user")
@click.argument("username")
@click.option("--enable", is_flag=True, help="重新启用（旧会话仍然无效）")
@with_app()
def disable_user(app: Flask, username: str, enable: bool) -> None:
    """Disable a staff account (its sessions end at once), or enable it again."""
    from . import audit
    from .models import Staff
    from .staff import set_active

    user = Staff.get_or_none(Staff.username == username)
    if user is None:
        raise click.ClickException(_("没有这个工作人员：%(username)s", username=username))
    set_active(user, enable)
    audit.record("cli", "staff.enabled" if enable else "staff.disabled", user.username)
    click.echo(
        _("%(name)s：已启用", name=user.name) if enable else _("%(name)s：已停用，已登录的会话全部失效", name=user.name)
    )


def _pick_up_orphans(windows: list[str]) -> int:
    from .routing import assign_unassigned

    return sum(assign_unassigned(w) for w in windows or [])


@cli.command()
@click.argument("username")
@click.option("--on/--away", "on_duty", required=True, help="在岗 / 离岗")
@click.option("--backup", default="", help="离岗时接手其在办申请的人（用户名；默认其B角）")
@with_app()
def duty(app: Flask, username: str, on_duty: bool, backup: str) -> None:
    """Mark a staff member on duty or away; away hands their open cases to their backup (AB角)."""
    from .absence import set_duty
    from .cases import CaseError

    try:
        change = set_duty(username, on_duty, None, backup)
    except CaseError as exc:
        raise click.ClickException(_(exc.message)) from exc
    click.echo(_(change.sentence()))


@cli.command()
@click.argument("receipt_code")
@click.argument("username")
@click.option("--reason", default="", help="改派原因")
@click.option("--actor", default="cli")
@with_app()
def reassign(app: Flask, receipt_code: str, username: str, reason: str, actor: str) -> None:
    """Hand an open case to another staff member on its window."""
    from shared.receipt_codes import normalise

    from .cases import CaseError, reassign as do_reassign

    try:
        case = do_reassign(normalise(receipt_code), username, actor, reason)
    except CaseError as exc:
        click.echo(_(exc.message), err=True)
        sys.exit(2)
    click.echo(_("%(code)s: 承办人 %(assignee)s", code=case.receipt_code, assignee=case.assignee))


@cli.group()
def register() -> None:
    """窗口服务事项受理登记册。"""


@register.command(name="export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--month", required=True, help="月份，如 2026-10")
@click.option("--window", default=None, help="窗口编码，如 W05；不填为全部窗口")
@with_app()
def register_export(app: Flask, path: str, month: str, window: str | None) -> None:
    """Write the acceptance register of a month to an .xlsx file."""
    from .catalogue_store import current
    from .register import RegisterError, entries, title_for, write_xlsx

    catalogue = current()
    windows = [window] if window else [w["code"] for w in catalogue.windows()]
    if window and catalogue.window(window) is None:
        raise click.ClickException(_("窗口编码不存在：%(window)s", window=window))
    try:
        lines = entries(month, windows, catalogue)
        title = title_for(month, window, catalogue)
    except RegisterError as exc:
        raise click.ClickException(_(exc))
    write_xlsx(lines, title, path)
    click.echo(_("已导出 %(count)s 件：%(path)s", count=len(lines), path=path))


@cli.command(name="figures")
@click.option("--from", "raw_from", metavar="YYYY-MM-DD", help="开始日期（含），按接收日期统计")
@click.option("--to", "raw_to", metavar="YYYY-MM-DD", help="结束日期（含）")
@click.option(
    "--by",
    "groups",
    multiple=True,
    metavar="GROUP",
    help="分组（可多次）：window、village、item、month、staff、source；不填为全部",
)
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False), help="同时写出 Excel 报表到此文件")
@with_app()
def figures_cmd(
    app: Flask, raw_from: str | None, raw_to: str | None, groups: tuple[str, ...], xlsx_path: str | None
) -> None:
    """The centre's report for a period, in its own categories (as the supervision page shows it)."""
    from . import figures
    from .figures_text import render

    try:
        if not raw_from or not raw_to:
            raise figures.PeriodError(N_("请给出统计期间：--from 开始日期 --to 结束日期（YYYY-MM-DD）"))
        start, end = figures.parse_period(raw_from, raw_to)
        chosen = [figures.check_group(by) for by in groups] or list(figures.GROUPS)
    except figures.PeriodError as exc:
        figures.refused("cli", str(exc), {"from": raw_from, "to": raw_to, "by": ",".join(groups)})
        click.echo(_("无法统计：%(why)s", why=_(exc)), err=True)
        sys.exit(2)
    report = figures.build_report(start, end)
    click.echo(render(report, chosen, _))
    if xlsx_path:
        from . import figures_xlsx  # openpyxl: about a tenth of the command's start-up, only for --xlsx

        Path(xlsx_path).write_bytes(figures_xlsx.to_bytes(figures_xlsx.workbook(report)))
        click.echo(_("已写出 Excel 报表：%(path)s", path=xlsx_path))


@cli.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8700, type=int)
@click.option("--threads", default=8, type=int)
@with_app(connect=False, pages=True)
def run(app: Flask, host: str, port: int, threads: int) -> None:
    """Serve the hub with waitress."""
    from waitress import serve

    from .db import database
    from .schema import migrate

    with database.connection_context():
        migrate()
    click.echo(_("中心已启动：%(url)s", url="http://%s:%s/" % (host, port)))
    # ident="": no `Server` header on every answer (20 B a village pays on each exchange over 2G;
    # behind nginx its own replaces it anyway).
    serve(app, host=host, port=port, threads=threads, ident="")


@cli.command(name="verify-audit")
@with_app()
def verify_audit(app: Flask) -> None:
    """Check the audit log's hash chain; exit 1 and name the first broken link if it does not hold."""
    from . import audit

    checked, broken = audit.verify()
    if broken is not None:
        click.echo(
            _(
                "审计日志哈希链断开：第 %(seq)s 条。%(reason)s（此前 %(checked)s 条完好）",
                seq=broken.seq,
                reason=_(broken.reason),
                checked=checked,
            ),
            err=True,
        )
        sys.exit(1)
    click.echo(_("审计日志完好：共 %(checked)s 条，哈希链连续。", checked=checked))


@cli.command()
@with_app(connect=False)
def sweep(app: Flask) -> None:
    """Run the deadline sweep once now (the scheduler does this every few minutes)."""
    from .jobs import sweep_job

    counts = sweep_job()
    click.echo(
        _(
            "期限巡检：检查 %(checked)s 件，绿 %(green)s、黄 %(yellow)s、红 %(red)s；"
            "新转黄 %(turned_yellow)s、新转红 %(turned_red)s",
            **counts,
        )
    )


@cli.command(name="import-bundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="回复包写到哪里（带回代办点导入）")
@with_app()
def import_bundle(app: Flask, file: str, out: str) -> None:
    """Import a village node's USB bundle through the sync code and write the response bundle."""
    from pathlib import Path

    from shared.bundle import BundleError

    from .bundles import import_bundle as do_import
    from .schema import migrate

    migrate()
    try:
        res = do_import(
            Path(file).read_bytes(),
            app.config["DATA_DIR"],
            app.extensions["daiban_hub_key"],
            app.extensions["daiban_hub_box_key"],
        )
    except BundleError as exc:
        click.echo(_("导入失败：%(why)s", why=_(exc.message)), err=True)
        sys.exit(1)
    tmp = Path(out).with_name(Path(out).name + ".part")
    tmp.write_bytes(res.response)
    os.replace(tmp, out)
    click.echo(_(res.summary()))
    for message in res.errors:
        click.echo(_("提示：%(message)s", message=_(message)))
    from .county import level

    if level.is_county():  # the bundle came from a township hub: the reply goes back to one
        click.echo(_("回复包已写出：%(path)s（请带回乡镇中心运行 daiban hub county-import-bundle）", path=out))
    else:
        click.echo(_("回复包已写出：%(path)s（请带回代办点运行 daiban node import-bundle）", path=out))
