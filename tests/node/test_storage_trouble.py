"""A full disk or a read-only database: a clear Chinese answer (JSON for the API), reads go on,
login still works, /healthz and `daiban node doctor` say so. SQLite's own limits make the fault:
max_page_count (SQLITE_FULL, as on a full disk) and query_only (as on a read-only file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from node import meta, storage
from node.api import token_hash
from node.capture import capture_request
from node.db import database
from node.models import Event, Request
from tests.factories import capture as capture_json
from tests.node.conftest import ClerkActions, capture_form
from tests.node.test_capture_views import capture


@pytest.fixture
def storage_fault(node_app) -> Iterator[Any]:
    """Set a SQLite pragma on every connection the app opens from now on; restored after."""
    saved = list(database.obj._pragmas)

    def inject(kind: str) -> None:
        database.connect(reuse_if_open=True)
        if kind == "full":
            pages = database.execute_sql("PRAGMA page_count").fetchone()[0]
            database.obj._pragmas = [*saved, ("max_page_count", pages)]
            database.close()
            # Fill what room the file has left, as a disk fills up.
            with pytest.raises(Exception) as filled:
                for _ in range(10_000):
                    capture_request(capture_json("JF-01"), "李文书")
            assert storage.classify(filled.value) == storage.FULL
            database.close()
        else:
            database.obj._pragmas = [*saved, ("query_only", 1)]
        database.close()

    yield inject
    database.obj._pragmas = saved
    storage._last.update(kind=None, at=0.0)


@pytest.mark.parametrize("kind,code,words", [("full", "disk_full", "磁盘已满"), ("readonly", "read_only", "不能写入")])
def test_writes_refused_clearly_reads_go_on(clerk, node_app, storage_fault, kind, code, words) -> None:
    saved = capture(clerk)
    with node_app.app_context():
        meta.put("api_token_hash", token_hash("t0ken"))
    storage_fault(kind)
    with database.connection_context():
        before = (Event.select().count(), Request.select().count())

    page = clerk.post("/capture/JF-01", capture_form("JF-01"), page="/capture/JF-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 503
    assert words in html
    assert "Internal Server Error" not in html
    api = node_app.test_client().post(
        "/api/v1/requests", json=capture_json("JF-01"), headers={"Authorization": "Bearer t0ken"}
    )
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == code
    assert words in api.get_json()["error"]["message"]

    # The clerk still reads what was saved; another clerk can still log in to read.
    assert clerk.client.get("/").status_code == 200
    assert saved.receipt_code in clerk.client.get(f"/requests/{saved.receipt_code}").get_data(as_text=True)
    other = ClerkActions(node_app.test_client())
    assert other.login().status_code == 302
    assert other.client.get(f"/requests/{saved.receipt_code}").status_code == 200

    health = node_app.test_client().get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["storage"] == code
    database.close()
    database.obj._pragmas = [p for p in database.obj._pragmas if p[0] not in ("max_page_count", "query_only")]
    with database.connection_context():
        assert (Event.select().count(), Request.select().count()) == before


def test_doctor_names_a_read_only_database(node_app, storage_fault) -> None:
    from node.doctor import check_storage

    with node_app.app_context():
        assert check_storage(Path(node_app.config["DATA_DIR"])).level == "ok"
    storage_fault("readonly")
    with database.connection_context():
        finding = check_storage(Path(node_app.config["DATA_DIR"]))
    assert finding.level == "problem"
    assert "不能写入" in finding.message
