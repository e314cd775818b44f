"""A migrated hub database with one village node, and case rows, for tests that write its tables directly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from hub.clock import now
from hub.db import bind, database, open_database
from hub.models import Node, Village
from hub.schema import SCHEMA_VERSION, migrate


@contextmanager
def hub_with_a_node(url: str) -> Iterator[None]:
    """The hub's models bound to the fresh database at url, migrated, with 东村 (id 1) and its node n1."""
    bind(open_database(url))
    database.connect(reuse_if_open=True)
    try:
        assert migrate() == (0, SCHEMA_VERSION)
        village = Village.create(name="东村", prefix="DC", created_at=now())
        Node.create(node_id="n1", village=village, pubkey="k", fingerprint="f", enrolled_at=now(), last_hash="0" * 64)
        yield
    finally:
        database.close()


def case_row(
    receipt_code: str,
    *,
    request_id: str | None = None,
    id_number: str = "1",
    item_code: str = "i",
    state: str = "received",
    at: datetime | None = None,
    node: str | None = "n1",
    village: int = 1,
) -> dict[str, Any]:
    """The columns of one case of node n1 (request id r-<receipt code> unless given), received at `at` (now)."""
    at = at or now()
    return dict(
        request_id=request_id or f"r-{receipt_code}",
        receipt_code=receipt_code,
        node=node,
        village=village,
        item_code=item_code,
        window="w",
        mode="m",
        state=state,
        applicant_name="张三",
        id_number=id_number,
        phone="1",
        captured={},
        received_at=at,
        received_on=at.date(),
        updated_at=at,
    )
