// Issue #13's CouchDB-style peer: one PouchDB 9 replication to pouchdb-server, timed.
//
//   node replicate.js --docs DOCS.jsonl --remote http://127.0.0.1:PORT/DB --local DIR
//                     [--server-pid PID --clk-tck 100]
//
// Loads the documents (one JSON object a line, written by bench/peer.py from bench/workload.py)
// into a local LevelDB PouchDB in DIR (not timed), then times db.replicate.to(remote) with
// PouchDB's default options. Prints one JSON line: docs, seconds, docs_per_s, client_cpu_s and,
// given the server's pid, server_cpu_s (from /proc, user + system, during the replication only).
'use strict';

const fs = require('fs');
const PouchDB = require('pouchdb');

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  for (const need of ['docs', 'remote', 'local']) {
    if (!out[need]) throw new Error(`--${need} is required`);
  }
  return out;
}

// User plus system CPU seconds of another process so far (Linux /proc/PID/stat, fields 14 and 15).
function procCpu(pid, clkTck) {
  if (!pid) return null;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clkTck;
}

function ownCpu() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function main() {
  const a = args();
  const clkTck = Number(a['clk-tck'] || 100);
  const docs = fs.readFileSync(a.docs, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const local = new PouchDB(a.local);
  for (let i = 0; i < docs.length; i += 1000) {
    const res = await local.bulkDocs(docs.slice(i, i + 1000));
    const bad = res.filter((r) => r.error);
    if (bad.length) throw new Error(`local write failed: ${JSON.stringify(bad[0])}`);
  }
  const remote = new PouchDB(a.remote); // created on the server by the replication's first request

  const server0 = procCpu(a['server-pid'], clkTck);
  const cpu0 = ownCpu();
  const t0 = process.hrtime.bigint();
  const res = await local.replicate.to(remote);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const clientCpu = ownCpu() - cpu0;
  const server1 = procCpu(a['server-pid'], clkTck);

  if (!res.ok || res.docs_written !== docs.length) {
    throw new Error(`replication incomplete: ${JSON.stringify({ ...res, docs: undefined })}`);
  }
  const out = {
    docs: res.docs_written,
    seconds: Number(seconds.toFixed(3)),
    docs_per_s: Math.round(res.docs_written / seconds),
    client_cpu_s: Number(clientCpu.toFixed(3)),
    server_cpu_s: server0 === null ? null : Number((server1 - server0).toFixed(3)),
    pouchdb: require('pouchdb/package.json').version,
    adapter: local.adapter,
  };
  await local.close();
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write(`replicate.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
