"""The benchmark's link shaper and workload: bytes pass intact and are counted, drops happen, captures are valid."""

from __future__ import annotations

import random
import socket
from typing import Iterator

import pytest
import requests

from bench import workload
from bench.linkshaper import LinkShaper
from shared.catalogue import Catalogue
from shared.validation import validate_capture
from tests import support


class _Echo(support.QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echo() -> Iterator[int]:
    with support.serving(_Echo) as url:
        yield int(url.rsplit(":", 1)[1])


def test_bytes_pass_intact_and_are_counted_with_headers(echo: int) -> None:
    payload = random.Random(1).randbytes(50_000)
    with LinkShaper(("127.0.0.1", echo)) as link, requests.Session() as session:
        for _ in range(2):
            assert session.post(link.url + "/", data=payload, timeout=10).content == payload
        counters = link.counters
    assert counters.up_bytes > 2 * len(payload)
    assert counters.down_bytes > 2 * len(payload)
    assert counters.connections == 1
    assert counters.round_trips == 2
    assert counters.dropped == 0


def test_a_cut_connection_fails_the_request_and_is_counted(echo: int) -> None:
    with LinkShaper(("127.0.0.1", echo), drop_first_at=10_000) as link:
        with pytest.raises(requests.RequestException):
            requests.post(link.url + "/", data=b"x" * 50_000, timeout=10)
        assert requests.post(link.url + "/", data=b"y" * 100, timeout=10).content == b"y" * 100
        assert link.counters.dropped == 1


def test_unreachable_target_closes_the_client_connection() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]
    with LinkShaper(("127.0.0.1", dead_port)) as link:
        with pytest.raises(requests.RequestException):
            requests.post(link.url + "/", data=b"x", timeout=5)


def test_typical_requests_are_valid_captures_of_about_600_bytes() -> None:
    rng = random.Random(3)
    cat = Catalogue.default()
    records = [workload.captured_record(rng, "22", cat) for _ in range(200)]
    assert all(validate_capture(cat, r) == [] for r in records)
    from shared import encoding

    sizes = sorted(len(encoding.canonical(r)) for r in records)
    assert 450 < sizes[len(sizes) // 2] < 900
    assert all(70 <= len(r["notes"]) <= 80 for r in records)
