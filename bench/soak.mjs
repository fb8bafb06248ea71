// The soak driver (run by bench/soak.sh, which starts the fake API): a fixed request rate through
// `promptgate run` for SOAK_SECONDS (default 1800), mixing clean, redacted, tokenized and blocked
// requests of 4 KB to 2 MB, JSON and SSE answers, with faults on both sides:
//   upstream: reset while the body arrives, reset mid-stream, stall past upstream_response_ms,
//             a certificate that does not verify;
//   clients:  drip a body, disconnect mid-upload and mid-stream, open and abandon connections;
//   operator: SIGHUP every 10 s, a broken rule file every 60 s (then repaired).
// Every planted value is recorded; at the end the upstream's record must hold none of them.
// Prints requests by outcome, latency p50/p99, and RSS and open descriptors over time; exits 1
// when a check fails (SOAK_EXTRA_YAML adds items to the config's actions list, e.g. to prove a leak is caught): a planted value forwarded, the proxy gone, a client not answered with its
// documented status, RSS or descriptors growing after warm-up.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  env, sleep, marker, githubToken, startProxy, stopAll, tlsThroughProxy, rawExchange,
} from '../tests/proxy/lib.mjs';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 1800);
const RATE = Number(process.env.SOAK_RATE ?? 20);
const WARMUP_S = Math.min(60, SECONDS / 3);
const HOST = 'api.anthropic.com';

const rulesFile = path.join(env.workdir, 'soak-rules.yaml');
const goodRules = `pack: soak
rules:
  - id: soak-redacted
    category: credential
    severity: high
    action: redact
    description: a value the soak plants to be redacted
    pattern: '\\bSOAKPLANT[0-9a-f]{16}\\b'
    examples:
      match: ['value SOAKPLANT7c1e9a3f5b2d8e46 here']
      no_match: ['SOAKPLANT0123']
`;
fs.writeFileSync(rulesFile, goodRules);

const pg = await startProxy({
  yaml: (`destinations:
  default: tunnel
  intercept: [api.anthropic.com, badcert.soak.test]
rules: [builtin, ${rulesFile}]
timeouts: {header_ms: 2000, body_ms: 3000, upstream_response_ms: 2000}
actions:
  - {rule: email-address, action: tokenize}
${process.env.SOAK_EXTRA_YAML ?? ''}`),
  args: ['--connect-to', `badcert.soak.test:443:127.0.0.1:${env.fakePort}`],
});
const pid = pg.proc.pid;

// --- what is sent --------------------------------------------------------------------------------

const planted = new Set();  // values that must never reach the upstream
const leaked = new Set();
// The fake API records every request whole (gigabytes over a long soak): every 5 s the record is
// moved aside (the fake API's next append starts a new file), searched for planted-value shapes,
// and deleted.
const plantedShapes = /SOAKPLANT[0-9a-f]{16}|soak\.[0-9a-f]{10}@corp-mail\.com|ghp_[A-Za-z0-9]{36}/g;
let recordParts = 0;
function drainRecord() {
  const part = `${env.recordFile}.part${recordParts++}`;
  try { fs.renameSync(env.recordFile, part); } catch { return; }  // nothing recorded yet
  const fd = fs.openSync(part, 'r');
  const buf = Buffer.alloc(16 << 20);
  let carry = '';
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (!n) break;
    const text = carry + buf.toString('latin1', 0, n);
    for (const m of text.matchAll(plantedShapes)) if (planted.has(m[0])) leaked.add(m[0]);
    carry = text.slice(-128);
  }
  fs.closeSync(fd);
  fs.unlinkSync(part);
}
const filler = (bytes) => {
  const words = ['deploy', 'the', 'service', 'after', 'review', 'of', 'logs', 'and', 'metrics', 'in', 'staging'];
  let s = '';
  while (s.length < bytes) s += words[(s.length * 7) % words.length] + ' ';
  return s.slice(0, bytes);
};
const sizes = [4096, 16384, 65536, 262144, 2 * 1024 * 1024];
const sizeFor = (i) => sizes[i % 23 === 0 ? 4 : i % 7 === 0 ? 3 : i % 3 === 0 ? 2 : i % 2];
const bodyOf = (text, stream = false) =>
  JSON.stringify({ model: 'claude-test-1', max_tokens: 64, stream, messages: [{ role: 'user', content: text }] });
const head = (m, length, extra = '') =>
  `POST /v1/messages?m=${m} HTTP/1.1\r\nHost: ${HOST}\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${length}\r\n${extra}\r\n`;

// Each kind: what to send and the statuses its client may get (0: the connection closed).
const kinds = {
  clean: { weight: 30, expect: [200] },
  sse: { weight: 10, expect: [200] },
  redacted: { weight: 12, expect: [200] },
  tokenized: { weight: 12, expect: [200] },
  blocked: { weight: 12, expect: [400] },
  upstream_reset: { weight: 3, expect: [502] },
  upstream_reset_mid_stream: { weight: 3, expect: [200] },
  upstream_stall: { weight: 2, expect: [504] },
  bad_certificate: { weight: 2, expect: [502] },
  client_drip: { weight: 3, expect: [200] },
  client_drip_too_slow: { weight: 1, expect: [408] },
  client_gone_mid_upload: { weight: 3, expect: null },
  client_gone_mid_stream: { weight: 3, expect: null },
  client_abandons: { weight: 4, expect: null },
};
const wheel = Object.entries(kinds).flatMap(([k, v]) => Array(v.weight).fill(k));

async function one(kind, i) {
  const m = marker('soak');
  const text = filler(sizeFor(i));
  if (kind === 'client_abandons') {
    const s = net.connect(pg.port, '127.0.0.1');
    s.on('error', () => {});
    s.resume();  // read (and drop) the 408, so the close is seen
    await new Promise((r) => { s.once('close', r); setTimeout(r, 6000); });  // header_ms closes it
    const closed = s.destroyed || s.readableEnded;
    s.destroy();
    return { status: closed ? 0 : -1, ok: true };
  }
  const host = kind === 'bad_certificate' ? 'badcert.soak.test' : HOST;
  let socket;
  try {
    socket = await tlsThroughProxy(pg, host);
  } catch (e) {
    // The interception itself works for any host; a failure here is the proxy's.
    return { status: -1, ok: false, error: `tls through proxy: ${e.message}` };
  }
  let body, extra = '', options = { timeoutMs: 15000 };
  switch (kind) {
    case 'sse': body = bodyOf(`${m} ${text}`, true); break;
    case 'redacted': {
      const v = `SOAKPLANT${m.slice(-16)}`;
      planted.add(v);
      body = bodyOf(`${m} ${text.slice(0, text.length / 2)} key ${v} ${text.slice(text.length / 2)}`);
      break;
    }
    case 'tokenized': {
      const v = `soak.${m.slice(-10)}@corp-mail.com`;
      planted.add(v);
      body = bodyOf(`${m} write to ${v} about ${text}`);
      break;
    }
    case 'blocked': {
      const v = githubToken();
      planted.add(v);
      body = bodyOf(`${m} ${text} export GITHUB_TOKEN=${v}`);
      break;
    }
    case 'upstream_reset': extra = 'x-fake-fault: reset\r\n'; body = bodyOf(`${m} ${text}`); break;
    case 'upstream_reset_mid_stream': extra = 'x-fake-fault: reset-mid-stream\r\n'; body = bodyOf(m, true); break;
    case 'upstream_stall': extra = 'x-fake-fault: stall\r\nx-fake-stall-ms: 4000\r\n'; body = bodyOf(m); break;
    case 'client_drip': options.gapMs = 100; body = bodyOf(`${m} ${filler(2000)}`); break;
    case 'client_drip_too_slow': options.gapMs = 400; body = bodyOf(`${m} ${filler(2000)}`); break;
    case 'client_gone_mid_upload': options.destroyAfterWrite = true; body = bodyOf(`${m} ${text}`); break;
    case 'client_gone_mid_stream': options.destroyAfterWrite = true; body = bodyOf(m, true); break;
    default: body = bodyOf(`${m} ${text}`);
  }
  const h = head(m, Buffer.byteLength(body), extra);
  let chunks = [h + body];
  if (kind === 'client_drip' || kind === 'client_drip_too_slow') {
    chunks = [h];
    for (let k = 0; k < body.length; k += Math.ceil(body.length / 10)) chunks.push(body.slice(k, k + Math.ceil(body.length / 10)));
  } else if (kind === 'client_gone_mid_upload') {
    chunks = [h + body.slice(0, body.length / 2)];
  }
  const t0 = performance.now();
  const r = await rawExchange(socket, chunks, options);
  const ms = performance.now() - t0;
  const expect = kinds[kind].expect;
  const ok = expect === null || (!r.timedOut && expect.includes(r.status));
  return { status: r.status, ok, ms, timedOut: r.timedOut, text: ok ? '' : r.text.slice(0, 300) };
}

// --- the run -------------------------------------------------------------------------------------

const samples = [];  // {t, rss_kb, fds}
const sample = (t) => {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
    samples.push({ t, rss_kb: rss, fds: fs.readdirSync(`/proc/${pid}/fd`).length });
  } catch {
    samples.push({ t, rss_kb: -1, fds: -1 });
  }
};
const outcomes = {};
const failures = [];
const latencies = [];
const pending = new Set();
const t0 = Date.now();
// The first broken rule file comes at 20 s (so a one-minute run has one), then every 60 s.
let i = 0, hups = 0, brokenRules = 0, lastHup = 0, lastBreak = -40, lastSample = -5;
while (Date.now() - t0 < SECONDS * 1000) {
  const elapsed = (Date.now() - t0) / 1000;
  if (elapsed - lastSample >= 5) { sample(Math.round(elapsed)); drainRecord(); lastSample = elapsed; }
  if (elapsed - lastHup >= 10) { process.kill(pid, 'SIGHUP'); hups++; lastHup = elapsed; }
  if (elapsed - lastBreak >= 60) {
    // A broken rule file, a reload (refused: the old config keeps serving), then the repair.
    fs.writeFileSync(rulesFile, goodRules.replace("pattern: '", "pattern: '(unclosed"));
    process.kill(pid, 'SIGHUP');
    brokenRules++;
    lastBreak = elapsed;
    setTimeout(() => { fs.writeFileSync(rulesFile, goodRules); }, 2000);
  }
  const kind = wheel[(i * 7919) % wheel.length];
  const n = i++;
  const p = one(kind, n).then((r) => {
    const key = `${kind} ${r.status}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
    if (!r.ok) failures.push({ kind, ...r });
    if (r.ms !== undefined && r.ok && ['clean', 'redacted', 'tokenized', 'blocked'].includes(kind)) latencies.push(r.ms);
  }).catch((e) => failures.push({ kind, error: String(e) })).finally(() => pending.delete(p));
  pending.add(p);
  await sleep(1000 / RATE);
}
await Promise.all(pending);
sample(Math.round((Date.now() - t0) / 1000));

// --- report and checks ---------------------------------------------------------------------------

const alive = pg.alive ? pg.alive() : pg.proc.exitCode === null;
await sleep(200);
drainRecord();
latencies.sort((a, b) => a - b);
const pct = (q) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(1) : 'n/a');
// After warm-up, the peak of the last half against the peak of the first: one 2 MB body at the
// wrong moment moves a single sample, not a peak that memory keeps coming back to.
const warm = samples.filter((s) => s.t >= WARMUP_S && s.rss_kb > 0);
const halves = [warm.slice(0, Math.ceil(warm.length / 2)), warm.slice(Math.ceil(warm.length / 2))];
const peak = (xs, f) => Math.max(...xs.map(f));
const rssGrowth = warm.length >= 2 ? peak(halves[1], (s) => s.rss_kb) / peak(halves[0], (s) => s.rss_kb) - 1 : 0;
const fdGrowth = warm.length >= 2 ? peak(halves[1], (s) => s.fds) - peak(halves[0], (s) => s.fds) : 0;

console.log(`soak: ${SECONDS} s at ${RATE} requests/s, ${i} requests, ${hups} SIGHUPs, ${brokenRules} broken rule files`);
console.log('requests by kind and status:');
for (const k of Object.keys(outcomes).sort()) console.log(`  ${k.padEnd(32)} ${outcomes[k]}`);
console.log(`latency of answered clean/redacted/tokenized/blocked requests: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`);
console.log('RSS and descriptors over time (s, MiB, fds):');
for (const s of samples) console.log(`  ${String(s.t).padStart(5)}  ${(s.rss_kb / 1024).toFixed(1).padStart(7)}  ${s.fds}`);
console.log(`after warm-up (${WARMUP_S.toFixed(0)} s), peak of the last half against the first: RSS ${(rssGrowth * 100).toFixed(1)} %, descriptors ${fdGrowth >= 0 ? '+' : ''}${fdGrowth}`);
console.log(`planted values: ${planted.size}, found upstream: ${leaked.size}`);

const problems = [];
if (!alive) problems.push('the proxy is gone');
if (leaked.size) problems.push(`${leaked.size} planted values reached the upstream`);
if (failures.length) problems.push(`${failures.length} clients not answered as documented: ${JSON.stringify(failures.slice(0, 5))}`);
// Allocators keep what they had at peak: growth after warm-up is measured, with room for noise.
if (rssGrowth > 0.25) problems.push(`RSS grew ${(rssGrowth * 100).toFixed(1)} % after warm-up`);
if (fdGrowth > 20) problems.push(`descriptors grew by ${fdGrowth} after warm-up`);
if (brokenRules && !/reload refused/.test(pg.stderr)) problems.push('a broken rule file was not refused on reload');
await stopAll();
if (problems.length) {
  console.log(`SOAK FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('soak: every check held');
