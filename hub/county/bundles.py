"""USB bundles on the township's line to its county: the village node's export and import, through the uplink.

When the county cannot be reached, the township writes what a county-sync round would send
(a hello, every pending batch, a poll, the scans the county lacks) with node/bundles.py, bound
to the uplink's own node database, sealed to the county's box key; the county imports it with
``daiban hub import-bundle`` as it would a village's (the township is just a node there) and
writes a reply bundle. Importing that reply here goes through node/bundles.import_response (the
county's signature, the export it answers, once only) and then uplink.apply_decisions, the very
step an HTTP round ends with: a county answer is recorded once whichever way it came.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from shared.bundle import BundleError
from shared.msgid import N_

from . import uplink

if TYPE_CHECKING:
    from node.bundles import ExportResult, ImportResult


def box_key(data_dir: str | Path) -> X25519PrivateKey:
    """The township's key for opening the county's reply bundles (the uplink's own, made on first use)."""
    from node.bundles import box_key as node_box_key

    return node_box_key(uplink.home(data_dir))


def _require_enrolled() -> None:
    from node import meta

    if not meta.get("hub_pubkey"):
        raise BundleError("not_enrolled", N_("本乡镇中心尚未在县级中心注册，请先运行 daiban hub county-enroll"))
    if not meta.get("hub_box_pubkey"):
        raise BundleError("no_hub_box_key", N_("注册时县级中心未提供数据包加密公钥，请升级县级中心后重新注册"))


def export(data_dir: str | Path, path: str | Path) -> "ExportResult":
    """Write the cases passed up and not yet at the county, with their scans, to a bundle file."""
    from node.bundles import export_bundle

    # The uplink's lock: a scheduled county-sync must not cut batches alongside the export.
    with uplink._one_round_at_a_time(data_dir), uplink.opened(data_dir):
        _require_enrolled()
        uplink.queue_passed_up(data_dir)
        return export_bundle(uplink.key(data_dir), path)


def import_reply(data_dir: str | Path, raw: bytes) -> tuple["ImportResult", uplink.CountySync]:
    """Apply the county's reply bundle and record its answers; BundleError (nothing changed) when unusable."""
    from node.bundles import import_response

    report = uplink.CountySync()
    with uplink._one_round_at_a_time(data_dir), uplink.opened(data_dir):
        _require_enrolled()
        got = import_response(raw, uplink.key(data_dir), box_key(data_dir))
        uplink.apply_decisions(report)
    report.sent, report.acked, report.refused_up, report.scans = got.batches, got.acked, got.refused, got.attachments
    return got, report
