"""bench.e2e_hub_batches --tree measures that checkout's hub, not this one's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def test_the_hub_imported_is_the_tree_s(tmp_path: Path) -> None:
    """A tree whose hub package says so when imported: the bench must reach it (bench.profile_ingest,
    imported after parse_args, once put this checkout back first on the path)."""
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "__init__.py").write_text('raise SystemExit("the hub of the tree given")\n')
    out = subprocess.run(
        [sys.executable, "-m", "bench.e2e_hub_batches", "--tree", str(tmp_path), "--batches", "1", "--size", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "the hub of the tree given" in out.stderr, out.stderr[-2000:]
