"""Typical village requests for the benchmarks: Chinese names, addresses, ~80 characters of notes, seeded."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
import secrets
from typing import Any

from shared import protocol
from shared.catalogue import Catalogue
from shared.receipt_codes import new_code
from tests.factories import capture

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国建华志强春梅海燕德福金凤小红永清"
GROUPS = ["一组", "二组", "三组", "四组", "五组", "六组", "七组", "八组"]
VILLAGES = ["桃源村", "石桥村", "柳树湾村", "白沙村", "青山村", "河口村"]
NOTE_PHRASES = [
    "申请人本人到代办点办理",
    "由其{rel}{name}代为办理，已核对委托书",
    "家中房屋建于{year}年，雨季漏水严重",
    "家庭收入主要依靠务农，年收入约{money}元",
    "{rel}长期患{ill}，需要照顾",
    "已告知需补交的材料及办理时限",
    "{group}于{month}月{day}日开会讨论同意",
    "四邻{name}、{name2}无异议，已签字确认",
    "原宅基地面积约{area}平方米",
    "子女在{city}务工，电话{phone}",
    "申请人{age}岁，行动不便，请上门核实",
    "已现场拍照{n}张留存",
    "村委会{month}月{day}日已审查，情况属实",
    "材料原件已核对，复印件{n}份附后",
    "请乡镇窗口尽快审核",
    "申请人为脱贫监测户",
    "家中有残疾人{n}名，持有残疾证",
    "建房位置在村道{side}侧，不占用耕地",
    "上次申请于{year}年因材料不全退回",
    "户内{n}人，劳动力{n2}人",
    "承包地{area}亩，种植{crop}",
    "{month}月遭受{disaster}，损失较重",
    "医疗支出约{money}元，有票据",
    "原低保金每月{n}百元",
]
NOTE_SLOTS = {
    "rel": ["儿子", "女儿", "配偶", "孙子", "侄子", "儿媳"],
    "ill": ["慢性病", "心脏病", "糖尿病", "重病", "尘肺病"],
    "city": ["广州", "深圳", "长沙", "东莞", "温州", "县城"],
    "side": "东南西北",
    "crop": ["水稻", "油菜", "玉米", "柑橘", "茶叶"],
    "disaster": ["洪涝", "冰雹", "干旱", "火灾"],
}
ITEMS = ["JF-01", "JF-02", "DB-01", "DB-02", "DB-03", "FP-01", "FP-02", "FP-03", "JF-03"]


def name(rng: random.Random) -> str:
    """A plausible Chinese name of two or three characters."""
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def notes(rng: random.Random, target: int = 80) -> str:
    """About `target` Chinese characters of clerk notes: common phrases with names, dates and numbers."""
    out = ""
    while len(out) < target:
        slots: dict[str, object] = {k: rng.choice(v) for k, v in NOTE_SLOTS.items()}
        slots.update(
            name=name(rng),
            name2=name(rng),
            year=rng.randint(1975, 2025),
            money=rng.randint(3, 60) * 500,
            group=rng.choice(GROUPS),
            month=rng.randint(1, 12),
            day=rng.randint(1, 28),
            area=rng.randint(60, 240),
            phone=f"13{rng.randint(0, 999999999):09d}",
            age=rng.randint(55, 95),
            n=rng.randint(1, 9),
            n2=rng.randint(1, 5),
        )
        out += rng.choice(NOTE_PHRASES).format(**slots) + "，"
    return out[: target - 1] + "。"


def form(rng: random.Random, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """A capture form as the clerk fills it (valid, ~600 bytes of JSON once recorded)."""
    item = rng.choice(ITEMS)
    missing: list[str] | None = [] if rng.random() < 0.7 else None
    data = capture(item, name=name(rng), rng=rng, catalogue=catalogue)
    if missing is None:
        cat = catalogue or Catalogue.default()
        required = cat.required_materials(item)
        gone = required[-1:]
        data["materials"] = {"brought": [m for m in data["materials"]["brought"] if m not in gone], "missing": gone}
        data["submit"] = "awaiting_materials"
    data["applicant"]["phone"] = f"1{rng.choice('3589')}{rng.randint(0, 999999999):09d}"
    data["applicant"]["address"] = f"{rng.choice(VILLAGES)}{rng.choice(GROUPS)}{rng.randint(1, 99)}号"
    data["applicant"]["group"] = rng.choice(GROUPS)
    data["notes"] = notes(rng)
    return data


def captured_record(rng: random.Random, prefix: str, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The `request.captured` data a node records for a form (as node.capture builds it)."""
    data = form(rng, catalogue)
    return {
        "receipt_code": new_code(prefix, rng),
        "item_code": data["item_code"],
        "catalogue_version": 1,
        "applicant": data["applicant"],
        "fields": data["fields"],
        "materials": data["materials"],
        "submit": data["submit"],
        "notes": data["notes"],
    }


# The ids the ingest benches send (BENCH_IDS), so that one hub can be measured with each:
# "node" (the default) what a node sends (node/capture: shared.protocol.new_request_id, and the
# capture's event id is the request id, `at` to the second); "random" the node's rule at 43b69e4
# (the prefix and 64 random bits, event id = request id); "uuid" what this bench sent until
# 2026-12-01: a random uuid4 request id, another as the event id, `at` to the microsecond
# (docs/performance.md, "Request ids in the order they are made").
ID_RULES = ("node", "random", "uuid")


def id_rule() -> str:
    rule = os.environ.get("BENCH_IDS", "node")
    if rule not in ID_RULES:
        raise SystemExit(f"BENCH_IDS={rule}: one of {', '.join(ID_RULES)}")
    return rule


def clerk_times(seed: int, start: datetime) -> Iterator[datetime]:
    """The moments a clerk captures at, one after another 1-10 minutes apart from start."""
    gaps = random.Random(seed + 7919)
    moment = start
    while True:
        moment += timedelta(seconds=gaps.randint(60, 600))
        yield moment


def wire_events(
    rng: random.Random, prefix: str, first_seq: int, n: int, times: Iterator[datetime] | None = None
) -> list[dict[str, Any]]:
    """n `request.captured` events as a node sends them in a batch, numbered from first_seq (BENCH_IDS).

    times, when given, are the moments of the captures (their request ids' day and `at`); else now.
    """
    rule = id_rule()
    events = []
    for i in range(n):
        moment = next(times) if times is not None else protocol.utcnow()
        if rule == "uuid":
            event_id, request_id, at = protocol.new_id(), protocol.new_id(), protocol.iso(protocol.utcnow())
        else:
            request_id = protocol.new_request_id(prefix, moment) if rule == "node" else prefix + secrets.token_hex(8)
            event_id, at = protocol.new_event_id("request.captured", request_id), protocol.event_time(moment)
        events.append(
            {
                "seq": first_seq + i,
                "id": event_id,
                "type": "request.captured",
                "request_id": request_id,
                "at": at,
                "clerk": "李文书",
                "data": captured_record(rng, prefix),
            }
        )
    return events
