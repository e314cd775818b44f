"""`daiban node …` commands: init, enroll, sync, run, capture, add-clerk."""

from __future__ import annotations

import json
import os
import secrets
import sys
from typing import IO, TYPE_CHECKING

import click
from flask import Flask

from shared.cli import AppInfo, app_info, own_process, with_app
from shared.cli import without_postgres_drivers as _without_postgres_drivers
from shared.cli_i18n import CliWords

if TYPE_CHECKING:
    from .sync import SyncClient

_ = CliWords("node")


def _factory(data_dir: str | None = None, pages: bool = True) -> Flask:
    from . import create_app, create_core_app

    return (create_app if pages else create_core_app)(data_dir=data_dir)


def _open() -> Flask:
    """The app for this command's --dir. Commands use @with_app; this stays for branches written
    before it (delete once none calls it)."""
    return app_info().load_app()


@click.group(name="node")
@click.option("--dir", "data_dir", envvar="DAIBAN_NODE_DIR", help="数据目录（密钥、SQLite 数据库）")
@click.pass_context
def cli(ctx: click.Context, data_dir: str | None) -> None:
    """村级代办点（node）管理命令。"""
    if ctx.invoked_subcommand == "run" or own_process():
        _without_postgres_drivers()  # before node.db imports peewee; every node command is SQLite's
    from .db import database

    ctx.obj = AppInfo("node", _factory, database, data_dir)


def _client(app: Flask) -> SyncClient:
    from . import meta
    from .db import database
    from .sync import SyncClient
    from .transport import HttpTransport

    with database.connection_context():
        hub_url = meta.get("hub_url")
        pin = meta.get("hub_cert_sha256")
    if not hub_url:
        raise click.ClickException(_("本代办点尚未注册，请先运行 daiban node enroll --hub URL --code 注册码"))
    return SyncClient(HttpTransport(hub_url, pin=pin), app.extensions["daiban_node_key"])


@cli.command()
@with_app()
def init(app: Flask) -> None:
    """Create this node's key and database, and print a fresh API token."""
    from shared import signing

    from . import meta
    from .api import token_hash
    from .db import database

    token = secrets.token_urlsafe(24)
    with database.atomic():
        meta.put("api_token_hash", token_hash(token))
    pub = signing.public_b64(app.extensions["daiban_node_key"])
    from .bundles import box_key

    box_key(app.config["DATA_DIR"])
    click.echo(_("代办点已初始化：%(dir)s", dir=app.config["DATA_DIR"]))
    click.echo(_("本机密钥指纹：%(fingerprint)s", fingerprint=signing.fingerprint(pub)))
    click.echo(f"API token: {token}")


@cli.command()
@click.option("--hub", "hub_url", required=True, help="乡镇中心地址，如 http://127.0.0.1:8700")
@click.option("--code", required=True, help="一次性注册码")
@click.option("--pin-cert", is_flag=True, help="固定中心的 HTTPS 证书（自签名证书时使用）")
@click.option("--cert-sha256", help="中心证书的 SHA-256 指纹（由县里提供；给出时核对后固定）")
@with_app(connect=False)
def enroll(app: Flask, hub_url: str, code: str, pin_cert: bool, cert_sha256: str | None) -> None:
    """Enrol with the hub using a one-time code and pin the hub's key (and its certificate if asked)."""
    from shared import signing

    from . import meta
    from .db import database
    from shared.bundle import box_public_b64

    from .bundles import box_key
    from .enrolment import enroll as do_enroll
    from .tls_pin import display, fetch_fingerprint, normalise
    from .transport import HttpTransport, SyncError

    pin = None
    if pin_cert or cert_sha256:
        if not hub_url.startswith("https://"):
            raise click.ClickException(_("只有 https:// 地址才能固定证书"))
        try:
            pin = fetch_fingerprint(hub_url)
        except OSError as exc:
            raise click.ClickException(_("无法取得中心证书：%(why)s", why=str(exc)))
        if cert_sha256 and normalise(cert_sha256) != pin:
            raise click.ClickException(
                _("中心证书指纹 %(pin)s 与给定的不符，已放弃注册（可能被冒充）", pin=display(pin))
            )
    with database.connection_context():
        try:
            body = do_enroll(
                HttpTransport(hub_url, pin=pin),
                app.extensions["daiban_node_key"],
                code,
                hub_url,
                box_pubkey=box_public_b64(box_key(app.config["DATA_DIR"])),
            )
        except SyncError as exc:
            raise click.ClickException(_(exc.message))
        if pin:
            with database.atomic():
                meta.put("hub_cert_sha256", pin)
            click.echo(_("已固定中心证书：SHA-256 %(pin)s（请与县里核对）", pin=display(pin)))
    click.echo(_("已注册：%(village)s（回执码前缀 %(prefix)s）", village=body["village"], prefix=body["prefix"]))
    click.echo(_("中心密钥指纹：%(fingerprint)s（请与中心核对）", fingerprint=signing.fingerprint(body["hub_pubkey"])))


@cli.command()
@with_app(connect=False)
def sync(app: Flask) -> None:
    """Run one sync round now and say what happened."""
    from . import progress
    from .sync import collected_apart
    from .transport import SyncError

    # What is done and what remains, as the round goes (stderr: stdout keeps the one-line summary).
    stop = progress.listen(
        progress.terminal_printer(lambda text: click.echo(text, nl=False, err=True), sys.stderr.isatty())
    )
    try:
        # This process exists for the round: the collector may leave what it held before alone.
        with collected_apart():
            report = _client(app).round()
    except SyncError as exc:
        click.echo(_("同步失败：%(why)s", why=_(exc.message)), err=True)
        sys.exit(1)
    finally:
        stop()
    click.echo(_("同步完成：%(summary)s", summary=_(report.summary())))
    if report.reconciled:
        from . import meta
        from .db import database

        with database.connection_context():
            done = meta.get("last_reconcile") or {}
        click.echo(
            _(
                "中心数据曾从备份恢复：本机曾收到、中心已不再记得的决定 %(forgotten)s 条，"
                "状态有变的申请 %(changed)s 件；详见“同步”页面，请告知相关群众。",
                forgotten=done.get("forgotten", 0),
                changed=done.get("changed", 0),
            )
        )


@cli.command()
@click.argument("event_ids", nargs=-1, type=int)
@click.option("--clerk", default="cli", help="操作人（记入操作记录）")
@with_app()
def requeue(app: Flask, event_ids: tuple[int, ...], clerk: str) -> None:
    """List quarantined records, or put the given ones back in the queue (recorded)."""
    from . import outbox
    from .models import Event

    if not event_ids:
        rows = list(Event.select().where(Event.quarantined).order_by(Event.id))
        for ev in rows:
            click.echo(f"{ev.id}\t{ev.type}\t{ev.at}\t{_(ev.result_message or '')}")
        click.echo(_("已隔离 %(count)s 条；放回待上传：daiban node requeue 编号…", count=len(rows)))
        return
    for pk in event_ids:
        try:
            outbox.requeue(pk, clerk)
        except outbox.RequeueError as exc:
            raise click.ClickException(_("%(pk)s：%(why)s", pk=pk, why=_(exc)))
        click.echo(_("%(pk)s：已放回待上传，下次同步时重新发送", pk=pk))


@cli.command()
@click.option("--offline", is_flag=True, help="不检查与中心的连接")
@with_app(connect=False)
def doctor(app: Flask, offline: bool) -> None:
    """Check database, keys, clock, hub connection, disk and backups; say what to fix."""
    from pathlib import Path

    from shared.doctor import report

    from .doctor import run_checks

    sys.exit(report(run_checks(Path(app.config["DATA_DIR"]), with_network=not offline), say=_))


@cli.command()
@click.argument("json_file", type=click.File("r", encoding="utf-8"))
@click.option("--clerk", default="cli")
@with_app()
def capture(app: Flask, json_file: IO[str], clerk: str) -> None:
    """Capture a request from a JSON file (works with the hub unreachable)."""
    from .capture import CaptureError, capture_request

    try:
        req = capture_request(json.load(json_file), clerk)
    except CaptureError as exc:
        for err in exc.errors:
            click.echo(f"{err.field}: {_(err.message)}", err=True)
        sys.exit(2)
    click.echo(req.receipt_code)


@cli.command()
@click.argument("receipt_code")
@click.option("--reason", required=True, help="撤回原因（群众本人的意愿）")
@click.option("--clerk", default="cli", help="操作人（记入操作记录）")
@with_app()
def withdraw(app: Flask, receipt_code: str, reason: str, clerk: str) -> None:
    """Withdraw a request at the villager's wish, as the request page does (node.capture.withdraw)."""
    from shared.receipt_codes import normalise

    from .capture import WithdrawRefused
    from .capture import withdraw as withdraw_request
    from .models import Request

    req = Request.get_or_none(Request.receipt_code == normalise(receipt_code))
    if req is None:
        raise click.ClickException(_("本代办点没有回执码为 %(code)s 的申请", code=receipt_code))
    was_held = req.state == "held"
    try:
        withdraw_request(req.receipt_code, clerk, reason)
    except WithdrawRefused as exc:
        raise click.ClickException(_(exc.message)) from exc
    if was_held:
        click.echo(_("暂存的申请已撤回；撤回记录将随下次同步报中心备查"))
    else:
        click.echo(_("撤回申请已记录，中心确认后状态变为“已撤回”"))


@cli.command(name="add-clerk")
@click.argument("username")
@click.option("--name", required=True, help="代办员姓名（记录在每条办理记录上）")
@click.option("--password", prompt="密码", hide_input=True, confirmation_prompt="再次输入密码", help="不给出时提示输入")
@with_app()
def add_clerk(app: Flask, username: str, name: str, password: str) -> None:
    """Create a clerk account that can log in to this node."""
    from .auth import ClerkError, add_clerk as do_add

    try:
        clerk = do_add(username, name, password)
    except ClerkError as exc:
        raise click.ClickException(_(exc))
    click.echo(_("已添加代办员：%(name)s（用户名 %(username)s）", name=clerk.name, username=clerk.username))


@cli.command()
@click.option("--phone", help="乡镇中心咨询电话，如 0731-8888 6666")
@click.option("--address", help="乡镇中心地址")
@with_app()
def centre(app: Flask, phone: str | None, address: str | None) -> None:
    """Set (or show) the centre's phone number and address printed on every receipt."""
    from . import centre as contact
    from .db import database

    if phone is None and address is None:
        now = contact.contact()
        unset = _("未设置")
        click.echo(_("中心电话：%(phone)s", phone=now["phone"] or unset))
        click.echo(_("中心地址：%(address)s", address=now["address"] or unset))
        return
    current = contact.contact()
    try:
        with database.atomic():
            phone, address = contact.set_contact(
                phone if phone is not None else current["phone"], address if address is not None else current["address"]
            )
    except contact.CentreError as exc:
        raise click.ClickException(_(exc)) from exc
    click.echo(
        _("已设置：中心电话 %(phone)s，中心地址 %(address)s（打印在每张收件回执上）", phone=phone, address=address)
    )


@cli.command(name="set-password")
@click.argument("username")
@click.option(
    "--password", prompt="新密码", hide_input=True, confirmation_prompt="再次输入密码", help="不给出时提示输入"
)
@with_app()
def set_password_cmd(app: Flask, username: str, password: str) -> None:
    """Give a clerk a new password; every session they have open ends."""
    from .auth import ClerkError, set_password

    try:
        clerk = set_password(username, password)
    except ClerkError as exc:
        raise click.ClickException(_(exc)) from exc
    click.echo(_("已为 %(name)s 设置新密码，已登录的会话全部失效", name=clerk.name))


@cli.command(name="disable-clerk")
@click.argument("username")
@click.option("--enable", is_flag=True, help="重新启用（旧会话仍然无效）")
@with_app()
def disable_clerk(app: Flask, username: str, enable: bool) -> None:
    """Disable a clerk account (its sessions end at once), or enable it again."""
    from .auth import ClerkError, set_active

    try:
        clerk = set_active(username, enable)
    except ClerkError as exc:
        raise click.ClickException(_(exc)) from exc
    click.echo(
        _("%(name)s：已启用", name=clerk.name)
        if enable
        else _("%(name)s：已停用，已登录的会话全部失效", name=clerk.name)
    )


@cli.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8701, type=int)
@click.option("--no-sync", is_flag=True, help="不启动后台同步")
def run(host: str, port: int, no_sync: bool) -> None:
    """Serve the clerk's app with waitress and sync in the background."""
    from shared import jsonlog

    # Logging is set up before the app exists, so that opening the database is logged too.
    if os.environ.get("DAIBAN_NODE_LOG_FORMAT"):
        jsonlog.configure(os.environ["DAIBAN_NODE_LOG_FORMAT"], os.environ.get("DAIBAN_NODE_LOG_LEVEL", "INFO"))
    _serve(host, port, no_sync)


@with_app(connect=False, pages=True)
def _serve(app: Flask, host: str, port: int, no_sync: bool) -> None:
    from waitress import serve

    from . import scheduler

    if not no_sync:
        from . import meta
        from .db import database

        with database.connection_context():
            enrolled = bool(meta.get("hub_url"))
        if enrolled:
            from .sync_panel import run_round

            # The panel's "sync now" and the background job share one client and one lock.
            scheduler.start(lambda: run_round(app))
    from . import backup
    from . import purge as purge_mod

    # One scheduler per process: backup and purge join the sync scheduler (started idle if not syncing).
    sched = scheduler.start(_idle)
    backup.schedule(sched, app.config["DATA_DIR"], _backup_keep())
    purge_mod.schedule(sched)
    click.echo(_("代办点已启动：%(url)s", url="http://%s:%s/" % (host, port)))
    try:
        serve(app, host=host, port=port, threads=4, ident="daiban-node")
    finally:
        scheduler.stop()


def _idle() -> None:
    """A sync tick that does nothing, for a scheduler that only runs backups."""


def _backup_keep() -> int:
    from .backup import DEFAULT_KEEP

    try:
        return max(1, int(os.environ.get("DAIBAN_NODE_BACKUP_KEEP", DEFAULT_KEEP)))
    except ValueError:
        return DEFAULT_KEEP


@cli.command(name="export-bundle")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@with_app()
def export_bundle(app: Flask, file: str) -> None:
    """Write pending batches and attachments to an encrypted, signed bundle for the hub (USB)."""
    from shared.bundle import BundleError

    from .bundles import export_bundle as do_export

    try:
        res = do_export(app.extensions["daiban_node_key"], file)
    except BundleError as exc:
        raise click.ClickException(_(exc.message))
    click.echo(
        _(
            "已导出数据包：%(file)s（批次 %(batches)s，事件 %(events)s，附件 %(attachments)s，%(kb)s KB）",
            file=file,
            batches=res.batches,
            events=res.events,
            attachments=res.attachments,
            kb=res.size // 1024 + 1,
        )
    )
    click.echo(_("请将文件拷贝到乡镇中心导入，再把中心给出的回复包拿回本机导入。"))


@cli.command(name="import-bundle")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_app()
def import_bundle(app: Flask, file: str) -> None:
    """Apply a response bundle written by the hub (USB)."""
    from pathlib import Path

    from shared.bundle import BundleError

    from .bundles import box_key, import_response

    try:
        res = import_response(
            Path(file).read_bytes(), app.extensions["daiban_node_key"], box_key(app.config["DATA_DIR"])
        )
    except BundleError as exc:
        if exc.code == "replayed":  # not a failure: the answer is already applied
            click.echo(_(exc.message))
            return
        click.echo(_("导入失败：%(why)s", why=_(exc.message)), err=True)
        sys.exit(1)
    click.echo(_("已导入回复包：%(summary)s", summary=_(res.summary())))
    for message in res.messages:
        click.echo(_("提示：%(message)s", message=_(message)))


@cli.command()
@click.option("--keep", type=int, default=None, help="保留最近几份备份（默认 14，或 DAIBAN_NODE_BACKUP_KEEP）")
@with_app(connect=False)
def backup(app: Flask, keep: int | None) -> None:
    """Back up the node database now (SQLite online backup)."""
    from .backup import backup_now

    path = backup_now(app.config["DATA_DIR"], keep or _backup_keep())
    click.echo(_("已备份：%(path)s", path=str(path)))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False))
def restore(file: str) -> None:
    """Restore the database from a backup; stop the node first. The next sync asks the hub where to resume."""
    from .backup import RestoreError, restore as do_restore
    from .web import DB_FILE

    data_dir = app_info().resolved_dir()
    try:
        aside = do_restore(data_dir, file)
    except RestoreError as exc:
        click.echo(_("恢复失败：%(why)s", why=_(exc.message)), err=True)
        sys.exit(1)
    click.echo(_("已从 %(file)s 恢复 %(db)s；原数据库另存为 %(aside)s", file=file, db=DB_FILE, aside=str(aside)))
    click.echo(_("下次同步时将先向中心核对进度（以中心记录为准）。"))


@cli.command()
@click.option("--days", type=int, default=None, help="办结并确认多少天后清除（默认 180，或 DAIBAN_NODE_PURGE_DAYS）")
@with_app()
def purge(app: Flask, days: int | None) -> None:
    """Remove personal data from requests closed and acknowledged more than N days ago."""
    from .purge import purge_closed, purge_days

    days = purge_days() if days is None else days
    n = purge_closed(days)
    click.echo(_("已清除 %(count)s 件办结超过 %(days)s 天的申请的个人信息（保留脱敏摘要）", count=n, days=days))


@cli.command()
@click.argument("receipt_code")
@click.argument("image", type=click.Path(exists=True, dir_okay=False))
@click.option("--material", "material_code", default=None, help="对应的材料编码（如 ID、HUKOU）")
@click.option("--clerk", default="cli")
@with_app()
def attach(app: Flask, receipt_code: str, image: str, material_code: str | None, clerk: str) -> None:
    """Add a scan or photo of a document to a request (uploaded at the next sync)."""
    from pathlib import Path

    from shared.receipt_codes import normalise

    from .attachments import AttachmentError, add_attachment

    data = Path(image).read_bytes()
    try:
        att = add_attachment(normalise(receipt_code), Path(image).name, data, clerk, material_code)
    except AttachmentError as exc:
        click.echo(_("附件未添加：%(why)s", why=_(exc.message)), err=True)
        sys.exit(2)
    click.echo(
        _(
            "已添加附件 %(name)s（%(kb)s KB，%(sha)s），下次同步时上传",
            name=att.name,
            kb=att.size // 1024 + 1,
            sha=att.sha256[:12],
        )
    )
