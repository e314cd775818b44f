"""Lists of str bound as arrays on PostgreSQL (hub/db.py `str_list_dumper`): one join, the same values.

The look-ups bind their values as one array each (`= ANY(%s)`); a list of plain str is written with
every value quoted in one join instead of psycopg's loop per value. The server must read the same
values, whatever text they hold; a list the join cannot write goes through psycopg's own code.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg.adapt import PyFormat

from hub import duplicates
from hub.db import database
from hub.models import Case, NodeEvent
from shared.bulk_rows import existing
from tests.hub.case_rows import case_row, hub_with_a_node

pytestmark = pytest.mark.pg

# Values an unquoted array element could not hold as they are: spaces, the delimiter, braces, the
# word NULL, an empty text, non-ASCII; and (not by the join) a quote and a backslash.
TRICKY = ["plain", " spaced ", "a,b", "{x}", "NULL", "null", "", "村民 \u3000", "\t"]
ESCAPED = ['q"uote', "back\\slash"]


@pytest.fixture
def pg_hub(pg_url: str) -> Iterator[None]:
    with hub_with_a_node(pg_url):
        yield


def _dumped(values: list[object]) -> bytes:
    conn = database.connection()
    dumper = conn.adapters.get_dumper(list, PyFormat.AUTO)(list, conn)
    return bytes(dumper.upgrade(values, PyFormat.AUTO).dump(values))


def test_a_list_of_str_is_one_quoted_join(pg_hub: None) -> None:
    assert _dumped(["e1", "村", "a b"]) == '{"e1","村","a b"}'.encode()
    # Not plain str: psycopg's own text (quoting only where needed), as before.
    assert _dumped(['q"', "x"]) == b'{"q\\"",x}'
    assert _dumped(["x", None]) == b"{x,NULL}"
    assert _dumped([1, 2]) == b"{1,2}"


@pytest.mark.parametrize("values", [TRICKY, ESCAPED, TRICKY + ESCAPED, ["one"]])
def test_the_server_reads_the_values_the_list_holds(pg_hub: None, values: list[str]) -> None:
    assert database.execute_sql("SELECT %s::text[]", [values]).fetchone()[0] == values
    for i, value in enumerate(values):
        Case.create(**{**case_row(f"C{i}"), "request_id": value})
        NodeEvent.create(node="n1", seq=i + 1, event_id=value, type="t", request_id="r", body={}, result="ok")
    asked = [*values, "absent", "ABSENT"]
    assert set(existing(Case.request_id, asked)) == set(values)
    got = duplicates.known(asked, asked, [], iter([]))
    assert got.event_ids == set(values)
    assert got.request_ids == set(values)
