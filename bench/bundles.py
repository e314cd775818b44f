"""Figures for USB bundles and attachments: image shrinking, bundle size and time for N requests.

Run: .venv/bin/python bench/bundles.py [N]   (default 1000 requests, one hub and one node in-process)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(n: int) -> None:
    """Print one line per figure."""
    from hub import create_app as hub_app_factory
    from hub import bundles as hub_bundles
    from hub.db import database as hub_db
    from hub.schema import migrate
    from node import bundles as node_bundles
    from node import create_app as node_app_factory
    from node.attachments import normalise_image
    from node.capture import capture_request
    from node.db import database
    from tests.factories import capture
    from tests.images import photo
    from tests.linked import link

    phone = photo(4000, 3000, grain=(400, 300))
    t = time.perf_counter()
    small = normalise_image(phone)
    print(
        f"image: 12 MP phone photo {len(phone) // 1024} KB -> {len(small) // 1024} KB JPEG in "
        f"{(time.perf_counter() - t) * 1000:.0f} ms"
    )

    tmp = Path(tempfile.mkdtemp(prefix="daiban-bench-"))
    hub = hub_app_factory(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp / "hub"),
            "SECRET_KEY": "bench",
            "DATABASE_URL": f"sqlite:///{tmp / 'hub.sqlite3'}",
        }
    )
    with hub_db.connection_context():
        migrate()
    node = node_app_factory({"TESTING": True, "DATA_DIR": str(tmp / "node"), "SECRET_KEY": "bench"})
    linked = link(hub, node)
    with database.connection_context():
        for i in range(n):
            capture_request(capture(("JF-01", "DB-01", "FP-02")[i % 3]), "李文书")
    t = time.perf_counter()
    with database.connection_context():
        res = node_bundles.export_bundle(linked.key, tmp / "up.daiban")
    t_export = time.perf_counter() - t
    raw = (tmp / "up.daiban").read_bytes()
    t = time.perf_counter()
    with hub_db.connection_context():
        out = hub_bundles.import_bundle(
            raw, hub.config["DATA_DIR"], hub.extensions["daiban_hub_key"], hub.extensions["daiban_hub_box_key"]
        )
    t_hub = time.perf_counter() - t
    t = time.perf_counter()
    with database.connection_context():
        applied = node_bundles.import_response(out.response, linked.key, node_bundles.box_key(node.config["DATA_DIR"]))
    t_node = time.perf_counter() - t
    print(f"bundle: {n} requests in {res.batches} batches -> {len(raw) // 1024} KB file, export {t_export:.2f} s")
    print(f"hub import-bundle: {out.accepted} events accepted in {t_hub:.2f} s; reply {len(out.response) // 1024} KB")
    print(f"node import-bundle: {applied.acked} acked, {applied.updates} updates in {t_node:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
