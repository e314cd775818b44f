"""EXPLAIN QUERY PLAN and best-of-3 time of the case, node event and hub log queries; argv: database, indexes to drop (rolled back)."""

import sqlite3
import sys
import time

db = sys.argv[1]
drops = sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else []
c = sqlite3.connect(db, isolation_level=None)
T = "('refused','approved','denied','withdrawn','invalid','county_approved','county_denied')"
Q = {
    "queue.py:50 window queue": f"""SELECT * FROM "case" WHERE ("window" IN ('MZ','SB') OR assignee='staff3') AND state NOT IN {T}""",
    "queue.py:50 one window, none handed": f"""SELECT * FROM "case" WHERE "window" IN ('MZ') AND state NOT IN {T}""",
    "queue.py:53 one window of several": f"""SELECT * FROM "case" WHERE "window" IN ('MZ','SB') AND state NOT IN {T} AND "window"='MZ'""",
    "queue.py:63 done": f"""SELECT * FROM "case" WHERE "window" IN ('MZ','SB') AND state IN {T} ORDER BY updated_at DESC LIMIT 50""",
    "routing.py:167/169 orphaned": f"""SELECT * FROM "case" WHERE assignee IS NULL AND state NOT IN {T} AND "window"='MZ'""",
    "routing.py:71 load": f"""SELECT assignee, COUNT(*) FROM "case" WHERE assignee IN ('staff1','staff2') AND state NOT IN {T} GROUP BY assignee""",
    "absence.py:142": f"""SELECT * FROM "case" WHERE assignee='staff1' AND state NOT IN {T}""",
    "register.py:83": """SELECT * FROM "case" WHERE received_on >= '2026-01-01' AND received_on < '2026-02-01' AND "window" IN ('MZ','SB')""",
    "search.py:92": """SELECT * FROM "case" WHERE applicant_name LIKE '%张%' AND "window" IN ('MZ','SB') ORDER BY received_at DESC LIMIT 50""",
    "metrics.py:143": f"""SELECT "window", COUNT(request_id) FROM "case" WHERE state NOT IN {T} GROUP BY "window" """,
    "county/queue.py:39 passed up": """SELECT * FROM countyreferral r JOIN "case" c ON c.request_id = r.request_id WHERE r.answer IS NULL AND c.state='passed_up'""",
    "public_results item": """SELECT c.applicant_name, v.name FROM "case" c JOIN village v ON v.id=c.village_id WHERE c.state IN ('approved','denied') AND c.closed_at >= '2026-01-01' AND c.item_code='IT-3'""",
    "public_results village": """SELECT c.applicant_name, v.name FROM "case" c JOIN village v ON v.id=c.village_id WHERE c.state IN ('approved','denied') AND c.closed_at >= '2026-01-01' AND c.village_id=3""",
    "public_results none": """SELECT c.applicant_name, v.name FROM "case" c JOIN village v ON v.id=c.village_id WHERE c.state IN ('approved','denied') AND c.closed_at >= '2026-01-01' ORDER BY c.closed_at DESC LIMIT 200""",
    "duplicates.py:30": """SELECT * FROM "case" WHERE id_number='430102190000000003' AND item_code='IT-3' AND state NOT IN ('approved')""",
    "console.py:138 node events of a case": "SELECT * FROM nodeevent WHERE request_id='r00000042' ORDER BY seq",
    "public_status.py:94 hub log of a case": "SELECT body FROM hubevent WHERE request_id='r00000042' ORDER BY cseq DESC",
    "cases.py:99 counter case log": "SELECT * FROM hubevent WHERE node_id IS NULL AND request_id='r00000042'",
    "queue.py:107 status entries": "SELECT request_id, body FROM hubevent WHERE request_id IN ('r00000042','r00000043') AND type='case.status'",
    "duplicates.py:84 event ids": "SELECT event_id FROM nodeevent WHERE event_id IN ('e00000001','e00000002')",
    "ingest.py:822 downstream": "SELECT cseq, type, request_id, at, body FROM hubevent WHERE node_id=3 AND cseq > 100 ORDER BY cseq LIMIT 500",
}
c.execute("BEGIN")
for d in drops:
    c.execute(f'DROP INDEX "{d}"')
for name, sql in Q.items():
    plan = " | ".join(r[3] for r in c.execute("EXPLAIN QUERY PLAN " + sql))
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        c.execute(sql).fetchall()
        best = min(best, time.perf_counter() - t)
    print(f"{name}\t{best * 1000:.1f} ms\t{plan}")
c.execute("ROLLBACK")
