"""`daiban node …` commands: init, enroll, sync, run, capture, add-clerk."""

from __future__ import annotations

import json
import os
import secrets
import sys

import click


def _data_dir() -> str:
    from . import create_app

    return create_app().config["DATA_DIR"]


@click.group(name="node")
@click.option("--dir", "data_dir", envvar="DAIBAN_NODE_DIR", help="数据目录（密钥、SQLite 数据库）")
def cli(data_dir: str | None) -> None:
    """村级代办点（node）管理命令。"""
    if data_dir:
        os.environ["DAIBAN_NODE_DIR"] = data_dir


def _open():  # type: ignore[no-untyped-def]
    """Create the app (opens the database and key) and return it."""
    from . import create_app

    return create_app()


def _client(app):  # type: ignore[no-untyped-def]
    from . import meta
    from .db import database
    from .sync import SyncClient
    from .transport import HttpTransport

    with database.connection_context():
        hub_url = meta.get("hub_url")
    if not hub_url:
        raise click.ClickException("本代办点尚未注册，请先运行 daiban node enroll --hub URL --code 注册码")
    return SyncClient(HttpTransport(hub_url), app.extensions["daiban_node_key"])


@cli.command()
def init() -> None:
    """Create this node's key and database, and print a fresh API token."""
    from shared import signing

    from . import meta
    from .api import token_hash
    from .db import database

    app = _open()
    token = secrets.token_urlsafe(24)
    with database.connection_context(), database.atomic():
        meta.put("api_token_hash", token_hash(token))
    pub = signing.public_b64(app.extensions["daiban_node_key"])
    click.echo(f"代办点已初始化：{app.config['DATA_DIR']}")
    click.echo(f"本机密钥指纹：{signing.fingerprint(pub)}")
    click.echo(f"API token: {token}")


@cli.command()
@click.option("--hub", "hub_url", required=True, help="乡镇中心地址，如 http://127.0.0.1:8700")
@click.option("--code", required=True, help="一次性注册码")
def enroll(hub_url: str, code: str) -> None:
    """Enrol with the hub using a one-time code and pin the hub's key."""
    from shared import signing

    from .db import database
    from .enrolment import enroll as do_enroll
    from .transport import HttpTransport, SyncError

    app = _open()
    with database.connection_context():
        try:
            body = do_enroll(HttpTransport(hub_url), app.extensions["daiban_node_key"], code, hub_url)
        except SyncError as exc:
            raise click.ClickException(exc.message)
    click.echo(f"已注册：{body['village']}（收件编号前缀 {body['prefix']}）")
    click.echo(f"中心密钥指纹：{signing.fingerprint(body['hub_pubkey'])}（请与中心核对）")


@cli.command()
def sync() -> None:
    """Run one sync round now and say what happened."""
    from .transport import SyncError

    app = _open()
    try:
        report = _client(app).round()
    except SyncError as exc:
        click.echo(f"同步失败：{exc.message}", err=True)
        sys.exit(1)
    click.echo(f"同步完成：{report.summary()}")


@cli.command()
@click.argument("json_file", type=click.File("r", encoding="utf-8"))
@click.option("--clerk", default="cli")
def capture(json_file, clerk: str) -> None:  # type: ignore[no-untyped-def]
    """Capture a request from a JSON file (works with the hub unreachable)."""
    from .capture import CaptureError, capture_request
    from .db import database

    _open()
    with database.connection_context():
        try:
            req = capture_request(json.load(json_file), clerk)
        except CaptureError as exc:
            for err in exc.errors:
                click.echo(f"{err.field}: {err.message}", err=True)
            sys.exit(2)
    click.echo(req.receipt_code)


@cli.command(name="add-clerk")
@click.argument("username")
@click.option("--name", required=True, help="文书姓名（记录在每条办理记录上）")
@click.option("--password", prompt="密码", hide_input=True, confirmation_prompt="再次输入密码",
              help="不给出时提示输入")
def add_clerk(username: str, name: str, password: str) -> None:
    """Create a clerk account that can log in to this node."""
    from .auth import ClerkError, add_clerk as do_add
    from .db import database

    _open()
    with database.connection_context():
        try:
            clerk = do_add(username, name, password)
        except ClerkError as exc:
            raise click.ClickException(str(exc))
    click.echo(f"已添加文书：{clerk.name}（用户名 {clerk.username}）")


@cli.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8701, type=int)
@click.option("--no-sync", is_flag=True, help="不启动后台同步")
def run(host: str, port: int, no_sync: bool) -> None:
    """Serve the clerk's app with waitress and sync in the background."""
    from waitress import serve

    from . import scheduler

    app = _open()
    if not no_sync:
        from . import meta
        from .db import database

        with database.connection_context():
            enrolled = bool(meta.get("hub_url"))
        if enrolled:
            from .sync_panel import run_round

            # The panel's "sync now" and the background job share one client and one lock.
            scheduler.start(lambda: run_round(app))
    click.echo(f"代办点已启动：http://{host}:{port}/")
    try:
        serve(app, host=host, port=port, threads=4, ident="daiban-node")
    finally:
        scheduler.stop()
