// Descriptor exhaustion: a proxy that has used every file descriptor it may open says why new
// clients wait (stderr, metric), does not spin on the failing accept, and serves them once
// descriptors are free again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { env, marker, startProxy, stopAll, curlApi, messagesBody, writeTemp, sleep, recordEntries } from './lib.mjs';

const T = { timeout: 60000 };
after(async () => { await stopAll(); });

const cpuSeconds = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;  // utime + stime, in clock ticks of 1/100 s
};

test('out of descriptors: new clients wait, the cause is named, no spinning, then served', T, async () => {
  const wrapper = path.join(env.workdir, `prlimit-${marker()}.sh`);
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec prlimit --nofile=96:96 -- ${env.bin} "$@"\n`, { mode: 0o755 });
  const real = env.bin;
  env.bin = wrapper;
  let pg;
  try { pg = await startProxy(); } finally { env.bin = real; }
  const pid = pg.proc.pid;
  // Idle clients until the proxy cannot accept another (the kernel queues the rest).
  const refused = /cannot accept new connections: no file descriptors left: (\d+ of the open-file limit 96 in use|too many open files); raise it \(ulimit -n, LimitNOFILE=\)/;
  const idle = [];
  for (let i = 0; i < 200 && !refused.test(pg.stderr); i++) {
    const s = net.connect(pg.port, '127.0.0.1');
    s.on('error', () => {});
    idle.push(s);
    await new Promise((resolve) => s.once('connect', resolve));
    await sleep(10);
  }
  assert.match(pg.stderr, refused, 'no line naming the cause');
  const m = marker('fd');
  const waiting = curlApi(pg, '/v1/messages', ['-H', 'content-type: application/json',
    '--data-binary', `@${writeTemp('fd.json', messagesBody(m))}`], { timeoutMs: 30000 });
  await sleep(300);
  const cpu0 = cpuSeconds(pid);
  await sleep(1500);
  const spent = cpuSeconds(pid) - cpu0;
  assert.ok(spent < 0.75, `the proxy spun on the failing accept: ${spent} s of CPU in 1.5 s`);
  for (const s of idle.splice(0, 40)) s.destroy();
  const r = await waiting;
  assert.equal(r.status, 200, `the waiting client was not served: ${r.status} ${r.body}`);
  assert.equal(recordEntries(m).length, 1);
  for (const s of idle) s.destroy();
  const metrics = await fetch(`http://127.0.0.1:${pg.adminPort}/metrics`).then((x) => x.text());
  assert.match(metrics, /promptgate_connections_refused_total\{reason="out_of_descriptors"\} [1-9]/);
});
