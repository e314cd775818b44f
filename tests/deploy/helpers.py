"""Small helpers for the deploy drills: capture through the CLI, read a node's or hub's facts."""

from __future__ import annotations

import json
import subprocess
import time
import sqlite3
from pathlib import Path
from typing import Any

from tests import factories
from tests.support import Service


def capture(node: Service, tmp: Path, name: str = "张三", item: str = "JF-01") -> str:
    """Capture one request on a node through its CLI; returns the receipt code."""
    form = tmp / f"form-{node.port}-{name}.json"
    form.write_text(json.dumps(factories.capture(item, name=name), ensure_ascii=False), encoding="utf-8")
    return node.cli("capture", str(form)).stdout.strip()


def node_meta(node: Service, key: str) -> Any:
    """A fact from the node's Meta table, read straight from its SQLite file."""
    with sqlite3.connect(node.data_dir / "node.sqlite3") as db:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def node_rows(node: Service, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the node's SQLite file."""
    with sqlite3.connect(node.data_dir / "node.sqlite3") as db:
        return db.execute(sql).fetchall()


def hub_rows(hub: Service, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on a SQLite hub's database file."""
    with sqlite3.connect(hub.data_dir / "hub.sqlite3") as db:
        return db.execute(sql).fetchall()


def make_cert(directory: Path, name: str = "hub") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, as a county without a CA would make; returns (cert, key)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "daiban-hub.local")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def start_gunicorn(
    hub: Service,
    *,
    workers: int = 2,
    certfile: Path | None = None,
    keyfile: Path | None = None,
    log_name: str = "gunicorn.log",
) -> subprocess.Popen[bytes]:
    """Serve the hub with gunicorn as systemd would (hub:create_app()); waits for /healthz."""
    import os
    import sys

    import requests

    from tests import support

    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{hub.port}",
        "--graceful-timeout",
        "5",
        "hub:create_app()",
    ]
    scheme = "http"
    if certfile and keyfile:
        cmd += ["--certfile", str(certfile), "--keyfile", str(keyfile)]
        scheme = "https"
    env = {**os.environ, **hub.env, "DAIBAN_HUB_DIR": str(hub.data_dir)}
    log = open(hub.data_dir / log_name, "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=support.ROOT)
    log.close()  # the child holds its own descriptor
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}; see {hub.data_dir / log_name}")
        try:
            if (
                requests.get(
                    f"{scheme}://127.0.0.1:{hub.port}/healthz", timeout=1, verify=str(certfile) if certfile else True
                ).status_code
                == 200
            ):
                return proc
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("gunicorn did not come up")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server we started, by its own process handle."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
