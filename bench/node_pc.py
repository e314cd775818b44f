"""The village node on an old PC: memory, cold start, capture and search latency, as local history grows."""

from __future__ import annotations

import random
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from tests import support

from . import nodefill, workload
from .harness import RUNS, load_average, log, median, pct, rss_kb, scaled

LEVELS = (1_000, 10_000, 100_000)
PASSWORD = "bench-pass-9"


def cold_start(node: support.Service) -> float:
    """Seconds from process start until /healthz answers (the node is left running)."""
    t0 = time.perf_counter()
    node.start()
    return time.perf_counter() - t0


def clerk_session(url: str) -> requests.Session:
    """A logged-in clerk's browser session (CSRF token taken from the login page)."""
    s = requests.Session()
    page = s.get(url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"username": "bench", "password": PASSWORD, **({"csrf_token": token.group(1)} if token else {})}
    resp = s.post(url + "/login", data=data, allow_redirects=False, timeout=10)
    if resp.status_code != 302:
        raise RuntimeError(f"login failed: {resp.status_code}")
    return s


def timed(fn: Any, n: int) -> list[float]:
    """Latencies in ms of n calls."""
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def measure(node: support.Service, token: str, rng: random.Random, samples: int) -> dict[str, Any]:
    """Capture-and-commit latency (JSON API) and search latency (the clerk's list page) on a running node."""
    url = node.url
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    forms = [workload.form(rng) for _ in range(samples)]
    codes: list[str] = []

    def capture(i: int) -> None:
        resp = api.post(url + "/api/v1/requests", json=forms[i], timeout=30)
        if resp.status_code != 201:
            raise RuntimeError(f"capture failed: {resp.status_code} {resp.text[:200]}")
        codes.append(resp.json()["receipt_code"])

    cap = timed(capture, samples)
    out: dict[str, Any] = {"capture_p50_ms": round(pct(cap, 50), 1), "capture_p99_ms": round(pct(cap, 99), 1)}
    clerk = clerk_session(url)
    names = [f["applicant"]["name"] for f in forms]
    tails = [f["applicant"]["id_number"][-4:] for f in forms]
    for kind, values in (("code", codes), ("name", names), ("id_tail", tails)):
        lat = timed(
            lambda i, values=values: clerk.get(
                url + "/", params={"q": values[i % len(values)]}, timeout=30
            ).raise_for_status(),
            samples,
        )
        out[f"search_{kind}_p50_ms"] = round(pct(lat, 50), 1)
        out[f"search_{kind}_p99_ms"] = round(pct(lat, 99), 1)
    lst = timed(lambda i: clerk.get(url + "/", timeout=30).raise_for_status(), samples)
    out["list_p50_ms"] = round(pct(lst, 50), 1)
    out["list_p99_ms"] = round(pct(lst, 99), 1)
    out["search_p99_ms"] = max(out[f"search_{k}_p99_ms"] for k in ("code", "name", "id_tail"))
    page = clerk.get(url + "/capture/JF-01", timeout=30)
    out["capture_page_bytes"] = len(page.content) if page.status_code == 200 else None
    out["capture_page_wire_bytes"] = _wire_size(clerk, url + "/capture/JF-01")
    out["rss_mb"] = round(rss_kb(node.proc.pid) / 1024, 1)
    return out


def _wire_size(session: requests.Session, url: str) -> int | None:
    """Bytes of a page as sent (compressed if the node compresses), headers excluded."""
    resp = session.get(url, timeout=30, stream=True)
    raw = resp.raw.read(decode_content=False)
    return len(raw) if resp.status_code == 200 else None


def run() -> dict[str, Any]:
    """Idle memory and cold start on an empty node, then latencies and memory at each history size."""
    levels = tuple(lv for lv in LEVELS if lv <= scaled(100_000))
    samples = max(20, scaled(100))
    rng = random.Random(9)
    out: dict[str, Any] = {"load_avg": load_average()}
    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp:
        node = support.Service("node", Path(tmp) / "node", support.free_port(), extra=["--no-sync"])
        node.data_dir.mkdir(parents=True)
        token = re.search(r"API token: (\S+)", node.cli("init").stdout).group(1)  # type: ignore[union-attr]
        node.cli("add-clerk", "bench", "--name", "李文书", "--password", PASSWORD)
        starts = []
        for _ in range(RUNS):
            starts.append(cold_start(node))
            node.stop()
        out["cold_start_s"] = round(median(starts), 2)
        cold_start(node)
        clerk_session(node.url).get(node.url + "/").raise_for_status()
        time.sleep(1)
        out["idle_rss_mb"] = round(rss_kb(node.proc.pid) / 1024, 1)
        node.stop()
        log(f"node cold start {out['cold_start_s']} s, idle RSS {out['idle_rss_mb']} MB")
        held = 0
        for level in levels:
            nodefill.bulk_history(node.data_dir, level - held, seed=level)
            held = level
            start = cold_start(node)
            try:
                figures = measure(node, token, rng, samples)
            finally:
                node.stop()
            held += samples
            figures["cold_start_s"] = round(start, 2)
            out[str(level)] = figures
            log(
                f"node at {level}: capture p99 {figures['capture_p99_ms']} ms, search p99 "
                f"{figures['search_p99_ms']} ms, RSS {figures['rss_mb']} MB"
            )
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=1))
