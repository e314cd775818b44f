"""`daiban hub …` commands: init, migrate, run, enroll-code, revoke, act."""

from __future__ import annotations

import os
import sys

import click

from shared import states


def _app():  # type: ignore[no-untyped-def]
    from . import create_app

    return create_app()


@click.group(name="hub")
@click.option("--dir", "data_dir", envvar="DAIBAN_HUB_DIR", help="数据目录（密钥、SQLite 数据库）")
def cli(data_dir: str | None) -> None:
    """乡镇中心（hub）管理命令。"""
    if data_dir:
        os.environ["DAIBAN_HUB_DIR"] = data_dir


@cli.command()
def init() -> None:
    """Create the hub key and database (safe to run twice)."""
    from .db import database
    from .keys import key_path
    from .schema import migrate
    from shared import signing

    app = _app()
    with database.connection_context():
        before, after = migrate()
    pub = signing.public_b64(app.extensions["daiban_hub_key"])
    click.echo(f"中心已初始化：{app.config['DATA_DIR']}（数据库结构版本 {before} → {after}）")
    click.echo(f"中心密钥指纹：{signing.fingerprint(pub)}  密钥文件：{key_path(app.config['DATA_DIR'])}")


@cli.command(name="migrate")
def migrate_cmd() -> None:
    """Bring the database schema up to date (safe to run twice)."""
    from .db import database
    from .schema import migrate

    _app()
    with database.connection_context():
        before, after = migrate()
    click.echo(f"数据库结构版本 {before} → {after}")


@cli.command(name="rotate-key")
@click.confirmation_option(prompt="轮换中心密钥？轮换后请重启中心服务", help="不询问，直接轮换")
def rotate_key() -> None:
    """Replace the hub key; nodes take up the new one from a statement signed by the old key."""
    from shared import signing

    from .db import database
    from .keys import rotate

    app = _app()
    with database.connection_context():
        old, new = rotate(app.config["DATA_DIR"])
    click.echo(f"中心密钥已轮换：{signing.fingerprint(old)} → {signing.fingerprint(new)}")
    click.echo("请重启中心服务（systemctl restart daiban-hub）；各代办点下次同步时自动换用新密钥。")


@cli.command()
def scheduler() -> None:
    """Run the hub's scheduled jobs (deadline sweep, heartbeat, nightly backup); exactly one per hub."""
    from .scheduler import AlreadyRunning, run as run_scheduler

    app = _app()
    click.echo(f"中心调度进程已启动（pid {os.getpid()}）")
    try:
        run_scheduler(app)
    except AlreadyRunning as exc:
        click.echo(str(exc), err=True)
        sys.exit(3)
    except KeyboardInterrupt:
        pass


@cli.command(name="backup")
@click.option("--keep", default=14, show_default=True, help="保留最近几份备份")
@click.option("--out", "out_dir", help="备份目录（默认 数据目录/backups）")
def backup_cmd(keep: int, out_dir: str | None) -> None:
    """Take a consistent backup of the hub database (SQLite online backup or pg_dump)."""
    from .backup import BackupError, backup

    app = _app()
    try:
        path = backup(app.config["DATA_DIR"], app.config.get("DATABASE_URL"), keep=keep, out_dir=out_dir)
    except BackupError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"已备份：{path}")


@cli.command(name="restore")
@click.argument("backup_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--new-key", is_flag=True, help="中心密钥已丢失：生成新密钥（之后各代办点须重新注册）")
def restore_cmd(backup_file: str, new_key: bool) -> None:
    """Restore a backup into this hub's (empty) database, then run migrations."""
    from flask import Flask

    from .backup import BackupError, restore
    from .db import database
    from .keys import key_path
    from .schema import migrate

    data_dir = os.environ.get("DAIBAN_HUB_DIR") or Flask("hub", instance_relative_config=True).instance_path
    if not key_path(data_dir).exists() and not new_key:
        raise click.ClickException(
            f"数据目录中没有中心密钥 {key_path(data_dir)}：请先从密钥备份放回（否则各代办点无法验证中心）；"
            "确已丢失时加 --new-key，并按运维手册让各代办点重新注册")
    try:
        restore(data_dir, os.environ.get("DATABASE_URL"), backup_file)
    except BackupError as exc:
        raise click.ClickException(str(exc))
    from shared import signing

    app = _app()
    with database.connection_context():
        before, after = migrate()
    click.echo(f"已恢复：{backup_file}（数据库结构版本 {before} → {after}）")
    click.echo(f"中心密钥指纹：{signing.fingerprint(signing.public_b64(app.extensions['daiban_hub_key']))}")


@cli.command(name="enroll-code")
@click.option("--village", required=True, help="行政村名称")
@click.option("--hours", default=24, show_default=True, help="有效小时数")
def enroll_code(village: str, hours: int) -> None:
    """Issue a one-time enrolment code for a village."""
    from datetime import timedelta

    from .db import database
    from .enrolment import issue_code

    _app()
    with database.connection_context():
        code = issue_code(village, timedelta(hours=hours))
    click.echo(code)


@cli.command()
@click.option("--village", required=True)
def revoke(village: str) -> None:
    """Revoke the village's node key at once (stolen or replaced PC)."""
    from .db import database
    from .enrolment import revoke as do_revoke

    _app()
    with database.connection_context():
        try:
            node = do_revoke(village)
        except LookupError:
            raise click.ClickException(f"没有找到行政村：{village}")
    click.echo(f"已停用 {village} 的代办点（{node.fingerprint}）")


@cli.command()
@click.argument("receipt_code")
@click.argument("action", type=click.Choice(sorted(states.ACTIONS)))
@click.option("--missing", multiple=True, help="所缺材料编码（补正时，可多次）")
@click.option("--reason", help="理由（不予受理/不予批准时必填）")
@click.option("--basis", "legal_basis", help="法律依据（不予受理/不予批准时必填）")
@click.option("--note")
@click.option("--actor", default="cli")
def act(receipt_code: str, action: str, missing: tuple[str, ...], reason: str | None,
        legal_basis: str | None, note: str | None, actor: str) -> None:
    """Apply a case action (accept, ask_materials, refuse, approve, deny)."""
    from shared.receipt_codes import normalise

    from .cases import CaseError, act as do_act
    from .db import database

    _app()
    with database.connection_context():
        try:
            case = do_act(normalise(receipt_code), action, actor, missing=list(missing), reason=reason,
                          legal_basis=legal_basis, note=note)
        except CaseError as exc:
            click.echo(exc.message, err=True)
            sys.exit(2)
    click.echo(f"{case.receipt_code}: {states.LABELS[case.state]}")


@cli.command(name="add-user")
@click.argument("username")
@click.option("--name", required=True, help="姓名")
@click.option("--role", type=click.Choice(["staff", "supervisor", "admin"]), default="staff", show_default=True)
@click.option("--windows", default="", help="负责窗口编码，逗号分隔，如 W05,W09")
@click.password_option(help="密码（至少 8 位）")
def add_user(username: str, name: str, role: str, windows: str, password: str) -> None:
    """Create a staff, supervisor or admin account."""
    from .db import database
    from .schema import migrate
    from .staff import StaffError, create_user

    _app()
    with database.connection_context():
        migrate()
        try:
            user = create_user(username, name, password, role, [w for w in windows.split(",") if w])
        except StaffError as exc:
            raise click.ClickException(str(exc))
    click.echo(f"已创建 {user.name}（{user.username}，{role}）")


@cli.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8700, type=int)
@click.option("--threads", default=8, type=int)
def run(host: str, port: int, threads: int) -> None:
    """Serve the hub with waitress."""
    from waitress import serve

    from .db import database
    from .schema import migrate

    app = _app()
    with database.connection_context():
        migrate()
    click.echo(f"中心已启动：http://{host}:{port}/")
    serve(app, host=host, port=port, threads=threads, ident="daiban-hub")
