"""The node prints the service guide from its synced catalogue, offline, with the hub's QR link."""

from __future__ import annotations

from node import meta
from node.db import database
from shared.catalogue import DEFAULT_CATALOGUE


def test_node_prints_the_synced_catalogue_offline(node_app, clerk) -> None:
    assert clerk.client.get("/guide").status_code == 200
    html = clerk.client.get("/guide/JF-01").get_data(as_text=True)
    assert "农村宅基地和建房（规划许可）申请" in html
    assert "服务指南" in html
    assert "<svg" not in html  # no hub yet
    with node_app.app_context(), database.connection_context():
        meta.put("hub_url", "https://zw.example.gov.cn")
        data = meta.get("catalogue") or DEFAULT_CATALOGUE
        data = dict(data, version=7)
        data["items"] = [dict(i, conditions="本村户籍村民" if i["code"] == "JF-01" else "") for i in data["items"]]
        meta.put("catalogue", data)
    html = clerk.client.get("/guide/jf-01").get_data(as_text=True)
    assert "本村户籍村民" in html
    assert "目录版本 7" in html
    assert "<title>https://zw.example.gov.cn/guide/JF-01</title>" in html
    every = clerk.client.get("/guide/print").get_data(as_text=True)
    assert every.count('<article class="poster"') == len(data["items"]) == 20
    assert "<script" not in every.lower()
    assert clerk.client.get("/guide-static/guide.css").status_code == 200
    resp = clerk.client.get("/guide/ZZ-99")
    assert resp.status_code == 404
    assert "没有这个办理事项" in resp.get_data(as_text=True)


def test_guide_needs_a_clerk(node_app) -> None:
    assert node_app.test_client().get("/guide/JF-01").status_code in (302, 401)
