"""`daiban node …` commands: init, enroll, sync, run, capture, api-token."""

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
        pin = meta.get("hub_cert_sha256")
    if not hub_url:
        raise click.ClickException("本代办点尚未注册，请先运行 daiban node enroll --hub URL --code 注册码")
    return SyncClient(HttpTransport(hub_url, pin=pin), app.extensions["daiban_node_key"])


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
@click.option("--pin-cert", is_flag=True, help="固定中心的 HTTPS 证书（自签名证书时使用）")
@click.option("--cert-sha256", help="中心证书的 SHA-256 指纹（由县里提供；给出时核对后固定）")
def enroll(hub_url: str, code: str, pin_cert: bool, cert_sha256: str | None) -> None:
    """Enrol with the hub using a one-time code and pin the hub's key (and its certificate if asked)."""
    from shared import signing

    from . import meta
    from .db import database
    from .enrolment import enroll as do_enroll
    from .tls_pin import display, fetch_fingerprint, normalise
    from .transport import HttpTransport, SyncError

    app = _open()
    pin = None
    if pin_cert or cert_sha256:
        if not hub_url.startswith("https://"):
            raise click.ClickException("只有 https:// 地址才能固定证书")
        try:
            pin = fetch_fingerprint(hub_url)
        except OSError as exc:
            raise click.ClickException(f"无法取得中心证书：{exc}")
        if cert_sha256 and normalise(cert_sha256) != pin:
            raise click.ClickException(f"中心证书指纹 {display(pin)} 与给定的不符，已放弃注册（可能被冒充）")
    with database.connection_context():
        try:
            body = do_enroll(HttpTransport(hub_url, pin=pin), app.extensions["daiban_node_key"], code, hub_url)
        except SyncError as exc:
            raise click.ClickException(exc.message)
        if pin:
            with database.atomic():
                meta.put("hub_cert_sha256", pin)
            click.echo(f"已固定中心证书：SHA-256 {display(pin)}（请与县里核对）")
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
@click.option("--offline", is_flag=True, help="不检查与中心的连接")
def doctor(offline: bool) -> None:
    """Check database, keys, clock, hub connection, disk and backups; say what to fix."""
    from pathlib import Path

    from .doctor import report, run_checks

    app = _open()
    sys.exit(report(run_checks(Path(app.config["DATA_DIR"]), with_network=not offline)))


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
            client = _client(app)
            scheduler.start(client.round)
    click.echo(f"代办点已启动：http://{host}:{port}/")
    try:
        serve(app, host=host, port=port, threads=4, ident="daiban-node")
    finally:
        scheduler.stop()
