// Two `promptgate run` replicas behind a real HAProxy (TCP mode, round robin per connection),
// sharing a cluster key by PROMPTGATE_KEY_FILE and the CA, each with its own PROMPTGATE_HOME, as
// two gateway pods: an override code offered by one replica is accepted by the other; a value gets
// the same stand-in from both and an answer is restored by whichever replica serves it; each
// replica's audit lines name it and its chain verifies alone; with one replica killed, the other
// serves the next turn and nothing is forwarded unscanned.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  env, githubToken, startProxy, stopAll, readAudit, curlApi, writeTemp, configYaml, recordText,
  recordHas, sleep,
} from './lib.mjs';

const haveHaproxy = !spawnSync('haproxy', ['-v']).error;
const T = { timeout: 120000, skip: haveHaproxy ? false : 'haproxy is not installed (scripts/install-deps.sh --test)' };
let haproxy = null;
after(async () => {
  if (haproxy && haproxy.exitCode === null) haproxy.kill('SIGTERM');
  await stopAll();
});

const config = configYaml(`overrides:
  enabled: true
  rules: [github-pat-classic]
actions:
  - {rule: github-pat-classic, action: block}
  - {rule: email-address, action: tokenize}
`);

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitPort(port, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

// Replica A makes the CA in its home; B gets a copy (as pods mounting one Secret). The cluster key
// lives outside both homes and is named by PROMPTGATE_KEY_FILE.
async function startReplicas() {
  const keyFile = writeTemp('cluster.key', crypto.randomBytes(32).toString('hex') + '\n');
  fs.chmodSync(keyFile, 0o600);
  const a = await startProxy({ yaml: config, extraEnv: { PROMPTGATE_KEY_FILE: keyFile, POD_NAME: 'replica-a' } });
  const homeB = fs.mkdtempSync(path.join(env.workdir, 'home-b-'));
  for (const f of ['ca.pem', 'ca-key.pem']) {
    fs.copyFileSync(path.join(a.home, f), path.join(homeB, f));
    fs.chmodSync(path.join(homeB, f), 0o600);
  }
  const b = await startProxy({ yaml: config, home: homeB, extraEnv: { PROMPTGATE_KEY_FILE: keyFile, POD_NAME: 'replica-b' } });
  assert.ok(!fs.existsSync(path.join(a.home, 'cluster.key')), 'a home key was created despite PROMPTGATE_KEY_FILE');
  const id = (p) => /cluster key ([0-9a-f]{16})/.exec(p.stderr)?.[1];
  assert.ok(id(a) && id(a) === id(b), `replicas report different keys:\n${a.stderr}\n${b.stderr}`);

  const port = await freePort();
  const cfg = writeTemp('haproxy.cfg', `global
  maxconn 256
defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
frontend proxy
  bind 127.0.0.1:${port}
  default_backend replicas
backend replicas
  balance roundrobin
  server a 127.0.0.1:${a.port} check inter 300ms fall 1 rise 1
  server b 127.0.0.1:${b.port} check inter 300ms fall 1 rise 1
`);
  haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let haErr = '';
  haproxy.stderr.on('data', (d) => { haErr += d; });
  await waitPort(port).catch((e) => { throw new Error(`${e.message}; haproxy: ${haErr}`); });
  const lb = { proxyUrl: `http://127.0.0.1:${port}`, caFile: a.caFile, ca: a.ca };
  return { a, b, lb };
}

let r;
before(async () => { if (haveHaproxy) r = await startReplicas(); });

async function ask(lb, text, curlArgs = []) {
  const body = JSON.stringify({ model: 'claude-test-1', max_tokens: 64, messages: [{ role: 'user', content: text }] });
  return curlApi(lb, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${writeTemp('req.json', body)}`, ...curlArgs]);
}
const codeIn = (body) => {
  const m = /promptgate-override: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}) because <your reason>/.exec(JSON.parse(body).error.message);
  return m ? m[1] : null;
};
// Which replica wrote the audit line of the request whose finding has this fingerprint.
const linesWith = (p, pred) => readAudit(p.audit).filter((l) => l.host === 'api.anthropic.com' && pred(l));

test('HAProxy spreads connections over both replicas; each names itself in its audit lines', T, async () => {
  const { a, b, lb } = r;
  for (let i = 0; i < 4; i++) assert.equal((await ask(lb, 'ECHO: hello')).status, 200);
  const la = linesWith(a, () => true), lbl = linesWith(b, () => true);
  assert.ok(la.length >= 1 && lbl.length >= 1, `round robin did not reach both: ${la.length} / ${lbl.length}`);
  assert.ok(la.every((l) => l.replica === 'replica-a') && lbl.every((l) => l.replica === 'replica-b'));
});

test('an override code offered by one replica is accepted by the other', T, async () => {
  const { a, b, lb } = r;
  const token = githubToken();
  const blocked = await ask(lb, `ECHO: use ${token}`);
  assert.equal(blocked.status, 400, blocked.body);
  const code = codeIn(blocked.body);
  assert.ok(code, blocked.body);
  const offeredBy = [a, b].find((p) => linesWith(p, (l) => l.override?.status === 'offered' && l.override.code_id).length);
  assert.ok(offeredBy);
  // The conversation goes on with the line; two turns, so round robin lands on both replicas.
  const reason = 'synthetic token of the replica test, rotated after';
  for (let i = 0; i < 2; i++) {
    const ok = await ask(lb, `ECHO: use ${token}\npromptgate-override: ${code} because ${reason}`);
    assert.equal(ok.status, 200, ok.body);
  }
  assert.ok(recordHas(token), 'the overridden request did not reach the API');
  for (const p of [a, b]) {
    const accepted = linesWith(p, (l) => l.override && ['redeemed', 'granted'].includes(l.override.status));
    assert.ok(accepted.length >= 1, `${p === a ? 'A' : 'B'} accepted no override`);
    assert.equal(accepted[0].override.justification, reason);
  }
  const other = offeredBy === a ? b : a;
  assert.ok(linesWith(other, (l) => l.override?.status === 'redeemed').length >= 1,
    'the replica that did not issue the code did not redeem it');
  // A tampered code for another value: refused on either replica, and the value never sent.
  const token2 = githubToken();
  const code2 = codeIn((await ask(lb, `ECHO: use ${token2}`)).body);
  assert.ok(code2);
  const bad = code2.slice(0, -1) + (code2.endsWith('Z') ? 'Y' : 'Z');
  for (let i = 0; i < 2; i++) {
    const refused = await ask(lb, `ECHO: use ${token2}\npromptgate-override: ${bad} because ${reason}`);
    assert.equal(refused.status, 400, refused.body);
  }
  assert.ok(!recordHas(token2));
});

test('a value gets the same stand-in from both replicas; each restores the answer', T, async () => {
  const { a, b, lb } = r;
  const user = `dana.${crypto.randomBytes(4).toString('hex')}`;
  const mail = `${user}@northwind-mail.com`;
  const before = recordText().length;
  for (let i = 0; i < 4; i++) {
    const res = await ask(lb, `ECHO: write to ${mail} (turn ${i})`);
    assert.equal(res.status, 200, res.body);
    assert.ok(JSON.parse(res.body).content[0].text.includes(mail), `turn ${i}: not restored: ${res.body}`);
  }
  const upstream = recordText().slice(before);
  assert.ok(!upstream.includes(user), 'the e-mail address reached the API');
  const standins = new Set([...upstream.matchAll(/user-[0-9a-f]{10}@example\.com/g)].map((m) => m[0]));
  assert.equal(standins.size, 1, `stand-ins differ between turns: ${[...standins]}`);
  for (const p of [a, b])
    assert.ok(linesWith(p, (l) => l.tokenized >= 1 && l.restored >= 1).length >= 1, 'a replica did not tokenize and restore');
});

test('audit verify checks each replica chain on its own, and a merged log', T, async () => {
  const { a, b } = r;
  const merged = writeTemp('merged.jsonl', fs.readFileSync(a.audit, 'utf8') + fs.readFileSync(b.audit, 'utf8'));
  for (const files of [[a.audit, b.audit], [merged]]) {
    const out = execFileSync(env.bin, ['audit', 'verify', ...files], { encoding: 'utf8' });
    assert.match(out, /replica-a.*chain intact/);
    assert.match(out, /replica-b.*chain intact/);
  }
  // Interleaved as a collector would, then one of B's lines edited: B's chain is broken, named.
  const la = fs.readFileSync(a.audit, 'utf8').split('\n').filter(Boolean);
  const lb = fs.readFileSync(b.audit, 'utf8').split('\n').filter(Boolean);
  const mixed = [];
  for (let i = 0; i < Math.max(la.length, lb.length); i++) mixed.push(...[la[i], lb[i]].filter(Boolean));
  const ok = writeTemp('interleaved.jsonl', mixed.join('\n') + '\n');
  assert.match(execFileSync(env.bin, ['audit', 'verify', ok], { encoding: 'utf8' }), /replica-b.*chain intact/);
  const edited = mixed.map((l) => (l === lb[0] ? l.replace('"replica":"replica-b"', '"status":599,"replica":"replica-b"') : l));
  const bad = writeTemp('edited.jsonl', edited.join('\n') + '\n');
  let failed = null;
  try { execFileSync(env.bin, ['audit', 'verify', bad], { encoding: 'utf8' }); } catch (e) { failed = e; }
  assert.ok(failed && failed.status === 1, 'an edited line verified');
  assert.match(failed.stdout, /chain broken \(replica replica-b\)/);
});

test('one replica killed: the next turn is served by the other, still scanned', T, async () => {
  const { a, b, lb } = r;
  await b.stop();
  await sleep(1000);  // HAProxy's check marks it down (inter 300ms); redispatch covers the gap
  // A new value each turn: the same one again would be redacted and forwarded (after_block).
  for (let i = 0; i < 2; i++) {
    const token = githubToken();
    const res = await ask(lb, `ECHO: use ${token}`);
    assert.equal(res.status, 400, res.body);
    assert.ok(!recordHas(token), 'a value was forwarded unscanned');
  }
  assert.equal((await ask(lb, 'ECHO: still here')).status, 200);
  assert.ok(a.alive());
});
