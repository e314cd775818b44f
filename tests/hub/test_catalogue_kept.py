"""The catalogue in force is decoded once per version and database, and never served stale."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hub.catalogue_store import current
from hub.db import bind, database, open_database
from hub.enrolment import issue_code
from hub.models import CatalogueVersion
from hub.schema import migrate
from tests.factories import item_of
from tests.hub.console_support import new_case
from tests.hub.test_catalogue_admin import item_form
from tests.hub.pages import login_as
from tests.nodesim import NodeSim


def renamed(data: dict[str, Any], item_code: str, name: str, version: int) -> dict[str, Any]:
    """The catalogue's data with one item's name changed, as `version`."""
    items = [dict(i, name=name) if i["code"] == item_code else i for i in data["items"]]
    return dict(data, items=items, version=version)


def status_page(villager: Any, code: str) -> str:
    """The villager's status lookup of the case `new_case` made (its phone ends 8000)."""
    resp = villager.get(
        "/status", query_string={"code": code, "tail": "8000"}, environ_base={"REMOTE_ADDR": "10.0.0.7"}
    )
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_kept_until_an_edit_makes_a_new_version_and_the_status_page_says_the_new_name(hub_app) -> None:
    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code = new_case(sim, "DB-01")
    first = current()
    assert current() is first  # kept: not read and decoded again
    villager = hub_app.test_client()

    def page() -> str:
        return status_page(villager, code)

    assert "农村最低生活保障申请" in page()
    admin = hub_app.test_client()
    login_as(admin, "admin")
    resp = admin.post("/admin/catalogue/item/DB-01", data=item_form(admin, "DB-01", name="低保申请（新名称）"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    now = current()
    assert now is not first
    assert now.version == first.version + 1
    assert item_of(now, "DB-01")["name"] == "低保申请（新名称）"
    html = page()
    assert "低保申请（新名称）" in html
    assert "农村最低生活保障申请" not in html


def test_the_same_number_with_another_creation_time_is_read_again(hub_app) -> None:
    # A restore of another history: version 2 again, created at another time, with other text.
    first = current()
    created = CatalogueVersion.get(CatalogueVersion.version == first.version).created_at
    version = first.version + 1
    CatalogueVersion.create(version=version, data=renamed(first.to_dict(), "DB-01", "甲", version), created_at=created)
    assert item_of(current(), "DB-01")["name"] == "甲"
    CatalogueVersion.delete().where(CatalogueVersion.version == version).execute()
    CatalogueVersion.create(
        version=version,
        data=renamed(first.to_dict(), "DB-01", "乙", version),
        created_at=created + timedelta(seconds=1),
    )
    assert item_of(current(), "DB-01")["name"] == "乙"


def test_each_database_has_its_own_even_with_the_same_number_and_creation_time(hub_app, tmp_path) -> None:
    first = current()
    row = CatalogueVersion.get(CatalogueVersion.version == first.version)
    main = database.obj
    other = open_database(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    bind(other)
    try:
        with database.connection_context():
            migrate()
            CatalogueVersion.update(
                data=renamed(first.to_dict(), "DB-01", "另一个库", first.version), created_at=row.created_at
            ).where(CatalogueVersion.version == first.version).execute()
            assert item_of(current(), "DB-01")["name"] == "另一个库"
    finally:
        bind(main)
        database.connect(reuse_if_open=True)
    assert current() is first


def test_the_status_lookup_reads_the_version_in_force_with_its_case(hub_app) -> None:
    from hub.public_status import page_case

    sim = NodeSim(hub_app.test_client(), issue_code("桃源村"))
    code = new_case(sim, "DB-01")
    villager = hub_app.test_client()

    def page() -> str:
        return status_page(villager, code)

    assert "农村最低生活保障申请" in page()
    first = current()
    # The lookup's own query names the version in force as current() does: the kept one is served.
    shown = page_case(code)
    assert shown is not None
    assert current(shown.catalogue_in_force) is first
    # A new version, and nothing but lookups after it: the next lookup's query names it.
    version = first.version + 1
    CatalogueVersion.create(
        version=version,
        data=renamed(first.to_dict(), "DB-01", "低保（新版）", version),
        created_at=CatalogueVersion.get(CatalogueVersion.version == first.version).created_at + timedelta(seconds=1),
    )
    html = page()
    assert "低保（新版）" in html
    assert "农村最低生活保障申请" not in html
    shown = page_case(code)
    assert shown is not None
    assert shown.catalogue_in_force[0] == version
