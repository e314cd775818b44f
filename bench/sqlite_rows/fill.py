"""Fill a SQLite hub to N cases (bench/hub_ops.fill), then spread windows, states, assignees, people."""

import sys
from pathlib import Path

tree = sys.argv[1]
out = Path(sys.argv[2])
n = int(sys.argv[3])
sys.path.insert(0, tree)
from bench.hub_ops import fill  # noqa: E402 - after the tree is on the path

url = f"sqlite:///{out}/hub.db"
fill(url, out, n)
import sqlite3  # noqa: E402

c = sqlite3.connect(out / "hub.db")
c.executescript("""
UPDATE "case" SET window = CASE rowid % 6 WHEN 0 THEN 'MZ' WHEN 1 THEN 'SB' WHEN 2 THEN 'JY' WHEN 3 THEN 'GT' WHEN 4 THEN 'TD' ELSE 'JS' END,
  state = CASE WHEN rowid % 100 < 40 THEN 'approved' WHEN rowid % 100 < 70 THEN 'denied' WHEN rowid % 100 < 72 THEN 'passed_up'
               WHEN rowid % 100 < 85 THEN 'received' ELSE 'in_progress' END,
  assignee = 'staff' || (rowid % 40),
  id_number = printf('43010219%010d', rowid % 60000),
  item_code = 'IT-' || (rowid % 50),
  village_id = 1 + rowid % 20,
  source = CASE WHEN rowid % 100 < 5 THEN 'counter' ELSE 'village' END,
  closed_at = CASE WHEN rowid % 100 < 70 THEN received_at END;
""")
c.commit()
print(c.execute('select count(*) from "case"').fetchone())
