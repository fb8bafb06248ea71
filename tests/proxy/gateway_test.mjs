// Integration tests of promptgate's gateway operation (`promptgate run`): proxy authentication
// (Basic and client certificates) and per-group policies, hot reload (SIGHUP and POST /-/reload) under load, the admin listener,
// drain on SIGTERM, slow-client timeouts, per-client connection caps, CONNECT safety and the
// Prometheus metrics after known traffic. Run through run_tests.sh (fake API, upstream PKI).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import crypto from 'node:crypto';
import dns from 'node:dns/promises';
import { execFileSync } from 'node:child_process';
import {
  env, sleep, marker, githubToken, secretPieces, messagesBody, recordHas, recordEntries,
  startProxy, stopAll, waitAudit, curlApi, writeTemp, configYaml, openConnect, tlsThroughProxy,
  TunnelAgent, request, rawExchange, rawPlain,
} from './lib.mjs';

const T = { timeout: 30000 };

// A name that resolves to loopback. A bare container or chroot may have no /etc/hosts, and then
// 'localhost' does not resolve at all: the name cases are skipped there, with a note.
let localhostResolves = true;
try {
  await dns.lookup('localhost');
} catch {
  localhostResolves = false;
}

after(async () => {
  await stopAll();
});

// ---- helpers ----------------------------------------------------------------------------------

// One request to the admin listener; resolves {status, headers, body}.
function admin(p, urlPath, { method = 'GET', timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    assert.ok(p.adminPort > 0, `no admin port in stderr:\n${p.stderr}`);
    const req = http.request({ host: '127.0.0.1', port: p.adminPort, method, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`admin ${method} ${urlPath} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

// Prometheus text format -> [{name, labels, value}].
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    if (m[2]) for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}
// The value of the one series `name` whose labels are exactly `labels`; undefined if absent.
function metric(text, name, labels = {}) {
  const want = Object.entries(labels);
  const hits = parseMetrics(text).filter((s) => s.name === name && Object.keys(s.labels).length === want.length
    && want.every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length <= 1, `several series ${name}${JSON.stringify(labels)}`);
  return hits.length ? hits[0].value : undefined;
}
async function scrape(p) {
  const r = await admin(p, '/metrics');
  assert.equal(r.status, 200, r.body);
  return r.body;
}

// A users file (mode 600) with a line from `promptgate passwd` per user.
function usersFile(users) {
  const f = path.join(env.workdir, `${marker('users')}.txt`);
  let text = '# test users\n';
  for (const [user, secret] of Object.entries(users)) {
    const line = execFileSync(env.bin, ['passwd', user], { input: `${secret}\n`, encoding: 'utf8' }).trim();
    assert.match(line, new RegExp(`^${user}:pbkdf2-sha256\\$\\d+\\$`), `passwd output: ${line}`);
    assert.ok(!line.includes(secret), 'passwd printed the secret');
    text += line + '\n';
  }
  fs.writeFileSync(f, text, { mode: 0o600 });
  fs.chmodSync(f, 0o600);
  return f;
}

// A CONNECT with extra headers; resolves {status, headers, head, socket}.
function connectWith(p, authority, headers = {}, { timeoutMs = 10000, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.port, method: 'CONNECT', path: authority, localAddress,
      headers: { host: authority, ...headers }, agent: false });
    const t = setTimeout(() => { req.destroy(); reject(new Error(`CONNECT ${authority} timed out`)); }, timeoutMs);
    req.on('connect', (res, socket, head) => {
      clearTimeout(t);
      resolve({ status: res.statusCode, headers: res.headers, head, socket });
    });
    req.on('error', (e) => { clearTimeout(t); reject(e); });
    req.end();
  });
}
// Reads what a refusing CONNECT answered (status line, headers and the error body).
function readAll(socket, head, ms = 1000) {
  return new Promise((resolve) => {
    let data = head ? head.toString('utf8') : '';
    const t = setTimeout(() => { socket.destroy(); resolve(data); }, ms);
    socket.on('data', (d) => { data += d; });
    socket.on('close', () => { clearTimeout(t); resolve(data); });
    socket.on('error', () => {});
  });
}

const basic = (user, secret) => 'Basic ' + Buffer.from(`${user}:${secret}`).toString('base64');
const JSON_HDR = ['-H', 'content-type: application/json'];

function assertNoSecret(text, secrets, what) {
  for (const s of secrets) for (const piece of secretPieces(s)) assert.ok(!text.includes(piece), `${what} contains (part of) a secret`);
}
function proxyAs(p, user, secret) {
  return { proxyUrl: `http://${encodeURIComponent(user)}:${encodeURIComponent(secret)}@127.0.0.1:${p.port}`, caFile: p.caFile };
}
// POSTs a Messages body through curl (a new connection); resolves curlApi's result.
async function postMessages(p, text, curlArgs = []) {
  const f = writeTemp('msg.json', messagesBody(text));
  return curlApi(p, '/v1/messages', [...JSON_HDR, '--data-binary', `@${f}`, ...curlArgs]);
}
function waitExit(proc, ms) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve({ code: proc.exitCode, signal: proc.signalCode, at: Date.now() });
    const t = setTimeout(() => resolve(null), ms);
    proc.once('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, at: Date.now() }); });
  });
}
async function waitFor(pred, ms, stepMs = 20) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v || Date.now() > end) return v;
    await sleep(stepMs);
  }
}

// ---- proxy authentication and policies by group -----------------------------------------------

const secrets = {
  alice: crypto.randomBytes(24).toString('hex'),
  'ci-bot': crypto.randomBytes(24).toString('hex'),
  bob: crypto.randomBytes(24).toString('hex'),
};
const wrongSecret = crypto.randomBytes(24).toString('hex');
let authProxy = null;
async function getAuthProxy() {
  if (authProxy) return authProxy;
  const users = usersFile(secrets);
  authProxy = await startProxy({
    yaml: configYaml(`auth:
  users_file: ${users}
  groups:
    security: [alice]
    ci: [ci-bot]
policies:
  - {name: security monitored, groups: [security], mode: monitor}
  - {name: ci redacts, groups: [ci], actions: [{category: credential, action: redact}]}
`),
  });
  return authProxy;
}
function assertNoAuthSecretLeak(p) {
  const all = [...Object.values(secrets), wrongSecret];
  const b64 = [...Object.entries(secrets).map(([u, s]) => basic(u, s).slice(6)), basic('alice', wrongSecret).slice(6)];
  const audit = fs.existsSync(p.audit) ? fs.readFileSync(p.audit, 'utf8') : '';
  for (const [text, what] of [[audit, 'audit log'], [p.stdout, 'stdout'], [p.stderr, 'stderr']]) {
    assertNoSecret(text, all, what);
    for (const b of b64) assert.ok(!text.includes(b), `${what} contains a Proxy-Authorization value`);
  }
}

test('proxy auth: 407 without or with wrong credentials, 200 with the right ones; identity in the audit', T, async () => {
  const p = await getAuthProxy();

  const none = await connectWith(p, 'api.anthropic.com:443');
  const noneText = await readAll(none.socket, none.head);
  assert.equal(none.status, 407, `no credentials: ${none.status} ${noneText}`);
  assert.equal(none.headers['proxy-authenticate'], 'Basic realm="promptgate"');

  const wrong = await connectWith(p, 'api.anthropic.com:443', { 'proxy-authorization': basic('alice', wrongSecret) });
  await readAll(wrong.socket, wrong.head);
  assert.equal(wrong.status, 407, 'wrong secret');
  assert.equal(wrong.headers['proxy-authenticate'], 'Basic realm="promptgate"');

  const unknown = await connectWith(p, 'api.anthropic.com:443', { 'proxy-authorization': basic('mallory', secrets.alice) });
  await readAll(unknown.socket, unknown.head);
  assert.equal(unknown.status, 407, 'unknown user');

  // Nothing reached the API without credentials: curl without them fails at the CONNECT.
  const m0 = marker('noauth');
  const r0 = await postMessages(p, `ECHO: ${m0}`);
  assert.notEqual(r0.code, 0, 'curl without proxy credentials succeeded');
  assert.equal(recordEntries(m0).length, 0, 'a request without credentials reached the API');

  const m = marker('auth');
  const r = await postMessages(proxyAs(p, 'alice', secrets.alice), `ECHO: ${m}`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 200, r.body);
  assert.match(JSON.parse(r.body).content[0].text, new RegExp(m));
  assert.equal(recordEntries(m).length, 1);
  const seen = recordEntries(m)[0];
  assert.ok(!('proxy-authorization' in seen.headers), 'Proxy-Authorization was forwarded upstream');

  const line = await waitAudit(p.audit, (l) => l.path === '/v1/messages' && l.user === 'alice');
  assert.ok(line, `no audit line with "user":"alice": ${JSON.stringify(p.auditLines())}`);
  assert.deepEqual(line.groups, ['security']);
  assert.equal(line.status, 200);
  const denied = p.auditLines().filter((l) => l.status === 407);
  assert.ok(denied.some((l) => l.decision === 'deny' && l.error === 'proxy authentication missing'),
    `no audit line for the missing credentials: ${JSON.stringify(denied)}`);
  assert.ok(denied.some((l) => l.decision === 'deny' && l.error === 'proxy authentication invalid'),
    `no audit line for the wrong credentials: ${JSON.stringify(denied)}`);

  const text = await scrape(p);
  assert.equal(metric(text, 'promptgate_auth_failures_total', { reason: 'missing' }), 2, 'auth failures missing (raw CONNECT + curl)');
  assert.equal(metric(text, 'promptgate_auth_failures_total', { reason: 'invalid' }), 2, 'auth failures invalid (wrong secret + unknown user)');
  assertNoSecret(text, Object.values(secrets), '/metrics');
  assert.ok(!text.includes('alice'), '/metrics carries a user name');
  assertNoAuthSecretLeak(p);
});

test('login backoff: after 5 wrong secrets the address gets 429 with Retry-After, even with the right one, then recovers', T, async () => {
  // A proxy of its own: every test client is 127.0.0.1, and this one gets locked out.
  const p = await startProxy({ yaml: configYaml(`auth:\n  users_file: ${usersFile(secrets)}\n`) });
  for (let i = 0; i < 5; i++) {
    const wrong = await connectWith(p, 'api.anthropic.com:443', { 'proxy-authorization': basic('alice', wrongSecret) });
    await readAll(wrong.socket, wrong.head);
    assert.equal(wrong.status, 407, `wrong secret #${i + 1}`);
  }
  const sixth = await connectWith(p, 'api.anthropic.com:443', { 'proxy-authorization': basic('alice', wrongSecret) });
  await readAll(sixth.socket, sixth.head);
  assert.equal(sixth.status, 407, 'the sixth failure is still checked (and starts the lockout)');
  const locked = await connectWith(p, 'api.anthropic.com:443', { 'proxy-authorization': basic('alice', secrets.alice) });
  const lockedText = await readAll(locked.socket, locked.head);
  assert.equal(locked.status, 429, `locked out: ${locked.status} ${lockedText}`);
  assert.equal(locked.headers['retry-after'], '1');
  assert.match(lockedText, /too many wrong proxy credentials/);
  await sleep(1100);
  const ok = await connectWith(p, 'api.anthropic.com:443', { 'proxy-authorization': basic('alice', secrets.alice) });
  assert.equal(ok.status, 200, 'the right secret works once the lockout is over');
  ok.socket.destroy();
  const text = await scrape(p);
  assert.equal(metric(text, 'promptgate_auth_failures_total', { reason: 'throttled' }), 1);
  assert.equal(metric(text, 'promptgate_auth_failures_total', { reason: 'invalid' }), 6);
  assertNoAuthSecretLeak(p);
});

test('policies by group: security monitors, ci redacts, a user in no group is blocked', T, async () => {
  const p = await getAuthProxy();
  const toks = { alice: githubToken(), 'ci-bot': githubToken(), bob: githubToken() };
  const ms = { alice: marker('alice'), 'ci-bot': marker('ci'), bob: marker('bob') };
  const res = {};
  for (const u of Object.keys(toks)) {
    res[u] = await postMessages(proxyAs(p, u, secrets[u]), `${ms[u]} my token is ${toks[u]} ok`);
    assert.equal(res[u].code, 0, `${u}: ${res[u].stderr}`);
  }

  // alice: monitor mode, forwarded unchanged, audit says it would have been blocked.
  assert.equal(res.alice.status, 200, `alice (monitor): ${res.alice.body}`);
  assert.ok(recordHas(toks.alice), 'monitor mode did not forward the body unchanged');
  const la = await waitAudit(p.audit, (l) => l.user === 'alice' && (l.findings || []).length > 0);
  assert.ok(la, `no audit line for alice's finding: ${JSON.stringify(p.auditLines())}`);
  assert.equal(la.enforced, false, JSON.stringify(la));
  assert.equal(la.policy, 'security monitored');
  assert.equal(la.mode, 'monitor');
  assert.equal(la.findings[0].rule, 'github-pat-classic');

  // ci-bot: credential -> redact.
  assert.equal(res['ci-bot'].status, 200, `ci-bot (redact): ${res['ci-bot'].body}`);
  assert.ok(!recordHas(toks['ci-bot']), 'the ci-bot token reached the API');
  const ci = recordEntries(ms['ci-bot']);
  assert.equal(ci.length, 1);
  assert.match(ci[0].body, /\[REDACTED:github-pat-classic\]/);
  const lc = await waitAudit(p.audit, (l) => l.user === 'ci-bot' && (l.findings || []).length > 0);
  assert.ok(lc, 'no audit line for ci-bot');
  assert.equal(lc.decision, 'redact');
  assert.equal(lc.policy, 'ci redacts');
  assert.deepEqual(lc.groups, ['ci']);
  assert.equal(lc.findings[0].action, 'redact');

  // bob: no group, no policy: the global enforce + block.
  assert.equal(res.bob.status, 400, `bob (no policy): ${res.bob.body}`);
  assert.equal(JSON.parse(res.bob.body).type, 'error');
  assert.ok(!recordHas(toks.bob), "bob's token reached the API");
  assert.equal(recordEntries(ms.bob).length, 0);
  const lb = await waitAudit(p.audit, (l) => l.user === 'bob' && (l.findings || []).length > 0);
  assert.ok(lb, 'no audit line for bob');
  assert.equal(lb.decision, 'block');
  assert.equal(lb.enforced, true);
  assert.equal(lb.policy, undefined);
  assert.deepEqual(lb.groups ?? [], []);

  const audit = fs.readFileSync(p.audit, 'utf8');
  for (const [text, what] of [[audit, 'audit log'], [p.stdout, 'stdout'], [p.stderr, 'stderr'], [await scrape(p), '/metrics']]) {
    assertNoSecret(text, Object.values(toks), what);
  }
  assertNoAuthSecretLeak(p);
});

// ---- client certificates (mTLS on the intercepted connection) ---------------------------------

// A throwaway client PKI made with the openssl CLI: the company's client CA, certificates for
// alice (group ci) and bob, one from a CA the gateway does not trust, and one that allows only
// server authentication.
let clientPki = null;
function makeClientPki() {
  if (clientPki) return clientPki;
  const dir = fs.mkdtempSync(path.join(env.workdir, 'client-pki-'));
  const f = (n) => path.join(dir, n);
  const ossl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const makeCa = (name, cn) => {
    ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${name}-key.pem`));
    ossl('req', '-x509', '-new', '-key', f(`${name}-key.pem`), '-sha256', '-days', '30', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', f(`${name}.pem`));
  };
  const makeLeaf = (name, cn, ca, eku = 'clientAuth') => {
    ossl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${name}-key.pem`));
    ossl('req', '-new', '-key', f(`${name}-key.pem`), '-subj', `/CN=${cn}/O=test`, '-out', f(`${name}.csr`));
    fs.writeFileSync(f(`${name}.ext`), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=${eku}\n`);
    ossl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.pem`), '-CAkey', f(`${ca}-key.pem`), '-CAcreateserial',
      '-days', '30', '-sha256', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  };
  makeCa('client-ca', 'promptgate test client CA');
  makeCa('rogue-ca', 'some other CA');
  makeLeaf('alice', 'alice', 'client-ca');
  makeLeaf('bob', 'bob', 'client-ca');
  makeLeaf('mallory', 'alice', 'rogue-ca');
  makeLeaf('server-only', 'alice', 'client-ca', 'serverAuth');
  const cert = (n) => ({ cert: f(`${n}.pem`), key: f(`${n}-key.pem`) });
  clientPki = { dir, ca: f('client-ca.pem'), alice: cert('alice'), bob: cert('bob'), mallory: cert('mallory'), serverOnly: cert('server-only') };
  return clientPki;
}
const certArgs = (c) => ['--cert', c.cert, '--key', c.key];

test('client certificates: a certificate from the client CA identifies the user; none, an untrusted one or a server-only one is refused before any request', T, async () => {
  const pki = makeClientPki();
  const p = await startProxy({
    yaml: configYaml(`auth:
  client_ca: ${pki.ca}
  groups:
    ci: [alice]
policies:
  - {name: ci redacts, groups: [ci], actions: [{category: credential, action: redact}]}
`),
  });

  // alice (group ci): identified by her certificate, with no proxy credentials; her policy applies.
  const aliceToken = githubToken();
  const ma = marker('certalice');
  const ra = await postMessages(p, `${ma} ECHO: token ${aliceToken}`, certArgs(pki.alice));
  assert.equal(ra.code, 0, ra.stderr);
  assert.equal(ra.status, 200, ra.body);
  assert.equal(recordEntries(ma).length, 1);
  assert.match(recordEntries(ma)[0].body, /\[REDACTED:github-pat-classic\]/);
  assert.ok(!recordHas(aliceToken), "alice's token reached the API");
  const la = await waitAudit(p.audit, (l) => l.user === 'alice' && l.path === '/v1/messages');
  assert.ok(la, `no audit line for alice: ${JSON.stringify(p.auditLines())}`);
  assert.deepEqual(la.groups, ['ci']);
  assert.equal(la.policy, 'ci redacts');
  assert.equal(la.decision, 'redact');

  // bob (no group): the global block applies.
  const bobToken = githubToken();
  const mb = marker('certbob');
  const rb = await postMessages(p, `${mb} token ${bobToken}`, certArgs(pki.bob));
  assert.equal(rb.status, 400, rb.body);
  assert.equal(recordEntries(mb).length, 0);
  assert.ok(await waitAudit(p.audit, (l) => l.user === 'bob' && l.decision === 'block'), 'no block line for bob');

  // Refused: no certificate, a certificate from another CA, a certificate not meant for clients.
  // The handshake fails, so no request is read and nothing reaches the API.
  const refusals = [['no certificate', []], ['untrusted CA', certArgs(pki.mallory)], ['server-only', certArgs(pki.serverOnly)]];
  for (const [what, args] of refusals) {
    const m = marker('certno');
    const r = await postMessages(p, `ECHO: ${m}`, args);
    assert.notEqual(r.code, 0, `${what}: curl succeeded (${r.status} ${r.body})`);
    assert.equal(recordEntries(m).length, 0, `${what}: the request reached the API`);
  }
  const denied = await waitFor(() => {
    const lines = p.auditLines().filter((l) => l.decision === 'deny' && /client certificate/.test(l.error || ''));
    return lines.length >= 3 ? lines : null;
  }, 3000);
  assert.ok(denied, `expected 3 certificate refusals in the audit log: ${JSON.stringify(p.auditLines())}`);
  assert.ok(denied.every((l) => l.method === 'CONNECT' && l.host === 'api.anthropic.com' && !l.user), JSON.stringify(denied));
  assert.ok(denied.some((l) => /certificate verify failed|unable to get local issuer|unsuitable certificate purpose/.test(l.error)),
    `no verification reason: ${JSON.stringify(denied.map((l) => l.error))}`);

  // A destination that is tunnelled cannot see a certificate, and there are no credentials to
  // ask for: refused with 403, without a Basic challenge that would prompt for a password.
  const tunnel = await connectWith(p, 'example.com:443');
  const tunnelText = await readAll(tunnel.socket, tunnel.head);
  assert.equal(tunnel.status, 403, tunnelText);
  assert.match(tunnelText, /client certificate/);
  assert.equal(tunnel.headers['proxy-authenticate'], undefined, 'a Basic challenge without credentials');

  const text = await scrape(p);
  assert.equal(metric(text, 'promptgate_auth_failures_total', { reason: 'certificate' }), 3);
  assert.equal(metric(text, 'promptgate_auth_failures_total', { reason: 'missing' }), 1);
  for (const [t, what] of [[fs.readFileSync(p.audit, 'utf8'), 'audit log'], [p.stderr, 'stderr'], [text, '/metrics']])
    assertNoSecret(t, [aliceToken, bobToken], what);
});

test("client certificates: Node's https client with a certificate, and Basic credentials still work next to them", T, async () => {
  const pki = makeClientPki();
  const p = await startProxy({
    yaml: configYaml(`auth:
  users_file: ${usersFile({ carol: secrets.alice })}
  client_ca: ${pki.ca}
`),
  });
  // Node: CONNECT without credentials, then TLS with alice's certificate; two requests on it.
  const { status, socket } = await openConnect(p, 'api.anthropic.com:443');
  assert.equal(status, 200);
  const tlsSock = await new Promise((resolve, reject) => {
    const s = tls.connect({ socket, servername: 'api.anthropic.com', ca: p.ca, ALPNProtocols: ['http/1.1'],
      cert: fs.readFileSync(pki.alice.cert), key: fs.readFileSync(pki.alice.key) });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  agent.createConnection = () => tlsSock;
  for (let i = 0; i < 2; i++) {
    const m = marker('nodecert');
    const r = await request(agent, { method: 'POST', path: '/v1/messages', headers: { 'content-type': 'application/json' },
      body: messagesBody(`ECHO: ${m}`) });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(recordEntries(m).length, 1);
  }
  tlsSock.destroy();
  // The audit line is written as the request ends, which may be just after the client has read
  // its answer.
  const lines = await waitFor(() => {
    const l = p.auditLines().filter((x) => x.path === '/v1/messages');
    return l.length >= 2 ? l : null;
  }, 3000) || p.auditLines().filter((l) => l.path === '/v1/messages');
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.ok(lines.every((l) => l.user === 'alice'), JSON.stringify(lines));

  // Basic credentials: no certificate is asked for; wrong ones are still a 407 (no fallback).
  const m = marker('basicnext');
  const r = await postMessages(proxyAs(p, 'carol', secrets.alice), `ECHO: ${m}`);
  assert.equal(r.status, 200, r.body);
  assert.ok(await waitAudit(p.audit, (l) => l.user === 'carol'), 'no audit line for carol');
  const wrong = await connectWith(p, 'api.anthropic.com:443', { 'proxy-authorization': basic('carol', wrongSecret) });
  await readAll(wrong.socket, wrong.head);
  assert.equal(wrong.status, 407);
});

test('client certificates: a reload with a missing client CA file is refused and the old CA keeps working', T, async () => {
  const pki = makeClientPki();
  const caCopy = writeTemp('client-ca.pem', fs.readFileSync(pki.ca));
  const p = await startProxy({ yaml: configYaml(`auth:\n  client_ca: ${caCopy}\n`) });
  fs.unlinkSync(caCopy);
  const res = await admin(p, '/-/reload', { method: 'POST' });
  assert.notEqual(res.status, 200, res.body);
  assert.match(res.body, /client_ca/);
  assert.match(res.body, /cannot read/);
  const m = marker('afterreload');
  const r = await postMessages(p, `ECHO: ${m}`, certArgs(pki.bob));
  assert.equal(r.status, 200, `${r.code} ${r.stderr} ${r.body}`);
  assert.equal(recordEntries(m).length, 1);
});

// ---- hot reload --------------------------------------------------------------------------------

test('hot reload: 20 SIGHUPs under continuous load, then a refused and an accepted POST /-/reload', { timeout: 60000 }, async () => {
  const variants = [
    { yaml: configYaml('block_status: 422\n'), status: 422 },
    { yaml: configYaml('actions: [{category: credential, action: redact}]\n'), status: 200 },
    { yaml: configYaml('block_status: 400\n'), status: 400 },
  ];
  const p = await startProxy({ yaml: configYaml('block_status: 400\n') });
  const cfgFile = path.join(p.dir, 'promptgate.yaml');
  assert.ok(fs.existsSync(cfgFile));

  // Clients: one keep-alive connection, and one new connection per request.
  let stop = false;
  const failures = [];
  const counts = { keepalive: 0, fresh: 0 };
  const keepAgent = new TunnelAgent(p);
  const loop = async (kind) => {
    for (let i = 0; !stop; i++) {
      const agent = kind === 'keepalive' ? keepAgent : new TunnelAgent(p);
      try {
        const r = await request(agent, { method: 'POST', path: '/v1/messages', body: messagesBody(`clean ${kind} ${i}`),
          headers: { 'content-type': 'application/json' } });
        if (r.status !== 200) failures.push(`${kind} #${i}: status ${r.status} ${r.body}`);
        else counts[kind]++;
      } catch (e) {
        failures.push(`${kind} #${i}: ${e.message}`);
      } finally {
        if (kind !== 'keepalive') agent.destroy();
      }
    }
  };
  const loops = [loop('keepalive'), loop('fresh')];

  const tokenStatus = async () => {
    const tok = githubToken();
    const r = await postMessages(p, `reload check ${tok}`);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!recordHas(tok), 'a token reached the API unredacted');
    return r.status;
  };
  let gen = 1;
  try {
    assert.equal(await tokenStatus(), 400);
    for (let i = 0; i < 20; i++) {
      const v = variants[i % variants.length];
      fs.writeFileSync(cfgFile, v.yaml);
      p.proc.kill('SIGHUP');
      gen++;
      const re = new RegExp(`reloaded .*\\(generation ${gen},`);
      const ok = await waitFor(() => re.test(p.stderr), 10000);
      assert.ok(ok, `reload ${i + 1} (generation ${gen}) not reported; stderr:\n${p.stderr.slice(-2000)}`);
      assert.equal(await tokenStatus(), v.status, `after reload ${i + 1} the token request did not get ${v.status}`);
    }
    await sleep(200);
  } finally {
    stop = true;
    await Promise.all(loops);
    keepAgent.destroy();
  }
  assert.deepEqual(failures, [], 'client requests failed during reloads');
  assert.equal(keepAgent.connects, 1, 'the keep-alive connection did not survive the reloads');
  assert.ok(counts.keepalive >= 10 && counts.fresh >= 10, `too little traffic during the reloads: ${JSON.stringify(counts)}`);
  assert.ok(p.alive(), 'promptgate died during the reloads');
  const last = variants[19 % variants.length];

  // A broken config is refused; the old one keeps serving.
  fs.writeFileSync(cfgFile, configYaml('mode: observe\n'));
  const bad = await admin(p, '/-/reload', { method: 'POST' });
  assert.equal(bad.status, 400, bad.body);
  const badJson = JSON.parse(bad.body);
  assert.equal(badJson.result, 'error', bad.body);
  assert.equal(typeof badJson.error, 'string');
  assert.match(badJson.error, /observe/);
  assert.equal(await tokenStatus(), last.status, 'the refused reload changed behaviour');
  let text = await scrape(p);
  assert.equal(metric(text, 'promptgate_config_reloads_total', { result: 'error' }), 1);
  assert.equal(metric(text, 'promptgate_config_reloads_total', { result: 'ok' }), 20);
  assert.equal(metric(text, 'promptgate_config_generation'), 21);
  assert.equal(metric(text, 'promptgate_ready'), 1);

  // GET is not a reload.
  const get = await admin(p, '/-/reload');
  assert.equal(get.status, 405, get.body);

  // A good config through POST.
  fs.writeFileSync(cfgFile, configYaml('block_status: 451\n'));
  const good = await admin(p, '/-/reload', { method: 'POST' });
  assert.equal(good.status, 200, good.body);
  const goodJson = JSON.parse(good.body);
  assert.equal(goodJson.result, 'ok', good.body);
  assert.equal(goodJson.generation, 22);
  assert.equal(await tokenStatus(), 451);
  text = await scrape(p);
  assert.equal(metric(text, 'promptgate_config_reloads_total', { result: 'error' }), 1);
  assert.equal(metric(text, 'promptgate_config_reloads_total', { result: 'ok' }), 21);
  assert.equal(metric(text, 'promptgate_config_generation'), 22);
  await p.stop();
});

test('hot reload: a keep-alive connection idle across a reload gets the new config on its next request', T, async () => {
  const p = await startProxy({ yaml: configYaml('block_status: 400\n') });
  const cfgFile = path.join(p.dir, 'promptgate.yaml');
  const agent = new TunnelAgent(p);
  const send = async () => {
    const tok = githubToken();
    const r = await request(agent, { method: 'POST', path: '/v1/messages', body: messagesBody(`idle reload ${tok}`),
      headers: { 'content-type': 'application/json' } });
    assert.ok(!recordHas(tok));
    return r.status;
  };
  try {
    assert.equal(await send(), 400);
    await sleep(100); // the connection now waits, idle, for its next request
    fs.writeFileSync(cfgFile, configYaml('block_status: 422\n'));
    p.proc.kill('SIGHUP');
    assert.ok(await waitFor(() => /reloaded .*\(generation 2,/.test(p.stderr), 10000), `no reload:\n${p.stderr}`);
    const after = await send();
    assert.equal(agent.connects, 1, 'the test needs one keep-alive connection');
    assert.equal(after, 422, 'a request sent after the reload on a keep-alive connection ran on the old config');
  } finally {
    agent.destroy();
    await p.stop();
  }
});

// ---- admin listener ----------------------------------------------------------------------------

test('admin: /healthz and /readyz 200, /metrics has promptgate_ready 1, unknown paths 404', T, async () => {
  const p = await startProxy({ yaml: configYaml() });
  const h = await admin(p, '/healthz');
  assert.equal(h.status, 200, h.body);
  const r = await admin(p, '/readyz');
  assert.equal(r.status, 200, r.body);
  const text = await scrape(p);
  assert.equal(metric(text, 'promptgate_ready'), 1);
  assert.equal(metric(text, 'promptgate_config_generation'), 1);
  assert.ok(metric(text, 'promptgate_rules') > 0, 'promptgate_rules');
  for (const result of ['ok', 'error']) assert.equal(metric(text, 'promptgate_config_reloads_total', { result }), 0);
  const nf = await admin(p, '/nope');
  assert.equal(nf.status, 404);
  await p.stop();
});

// ---- drain --------------------------------------------------------------------------------------

test('drain: SIGTERM mid-stream: not ready, no new connections, idle keep-alive closed, in-flight completes, exit 0', T, async () => {
  const p = await startProxy({ yaml: configYaml('timeouts: {drain_ms: 5000}\n') });
  // An idle keep-alive connection.
  const idleAgent = new TunnelAgent(p);
  const warm = await request(idleAgent, { path: '/v1/models' });
  assert.equal(warm.status, 200);
  await sleep(100);
  const idle = Object.values(idleAgent.freeSockets).flat();
  assert.equal(idle.length, 1, 'no idle keep-alive socket in the agent');
  let idleClosedAt = 0;
  idle[0].once('close', () => { idleClosedAt = Date.now(); });

  const streamAgent = new TunnelAgent(p);
  let sigAt = 0;
  const stream = new Promise((resolve, reject) => {
    const req = https.request({ host: 'api.anthropic.com', port: 443, path: '/sse?n=6&delay_ms=300', agent: streamAgent,
      servername: 'api.anthropic.com' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
        if (!sigAt) { sigAt = Date.now(); p.proc.kill('SIGTERM'); }
      });
      res.on('end', () => resolve({ status: res.statusCode, body, complete: res.complete, at: Date.now() }));
      res.on('aborted', () => reject(new Error(`stream aborted after ${JSON.stringify(body)}`)));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  const exited = waitExit(p.proc, 10000);
  await waitFor(() => sigAt, 5000);
  assert.ok(sigAt, 'the stream never started');

  // Not ready at once.
  const notReady = await waitFor(async () => (await admin(p, '/readyz')).status === 503, 1000);
  assert.ok(notReady, '/readyz did not turn 503 within 1 s of SIGTERM');
  assert.ok(Date.now() - sigAt < 1000);
  assert.equal(metric(await scrape(p), 'promptgate_ready'), 0);

  // New connections refused.
  const refused = await waitFor(() => new Promise((resolve) => {
    const s = net.connect(p.port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', (e) => resolve(e.code === 'ECONNREFUSED'));
  }), 1000, 50);
  assert.ok(refused, 'the proxy still accepts connections while draining');

  const s = await stream;
  assert.equal(s.status, 200);
  assert.ok(s.complete, 'the in-flight stream was cut');
  assert.equal((s.body.match(/event: tick/g) || []).length, 6, `in-flight stream incomplete: ${s.body}`);
  assert.match(s.body, /"i":5/);

  const ex = await exited;
  assert.ok(ex, `promptgate did not exit within 10 s of SIGTERM; stderr:\n${p.stderr}`);
  assert.equal(ex.code, 0, `exit ${ex.code ?? ex.signal}; stderr:\n${p.stderr}`);
  assert.ok(ex.at - sigAt < 5000, `exit took ${ex.at - sigAt} ms (drain_ms 5000)`);
  assert.ok(ex.at >= s.at - 50, 'exited before the in-flight stream ended');
  assert.ok(idleClosedAt, 'the idle keep-alive connection was not closed');
  assert.ok(idleClosedAt - sigAt < 1000, `the idle keep-alive connection closed ${idleClosedAt - sigAt} ms after SIGTERM`);
  idleAgent.destroy();
  streamAgent.destroy();
});

test('drain: a request stuck past drain_ms does not hold the exit', T, async () => {
  const p = await startProxy({ yaml: configYaml('timeouts: {drain_ms: 1500}\n') });
  const agent = new TunnelAgent(p);
  const m = marker('hang');
  const hung = request(agent, { path: `/hang?ms=20000&m=${m}`, timeoutMs: 25000 }).then((r) => ({ r }), (e) => ({ e }));
  const arrived = await waitFor(() => recordEntries(m).length > 0, 5000);
  assert.ok(arrived, 'the hanging request did not reach the API');
  const sigAt = Date.now();
  p.proc.kill('SIGTERM');
  const ex = await waitExit(p.proc, 8000);
  assert.ok(ex, `promptgate still running 8 s after SIGTERM with drain_ms 1500; stderr:\n${p.stderr}`);
  assert.equal(ex.code, 0, `exit ${ex.code ?? ex.signal}`);
  const took = ex.at - sigAt;
  assert.ok(took >= 1200 && took < 3500, `exit ${took} ms after SIGTERM (drain_ms 1500)`);
  const h = await hung;
  assert.ok(h.e || h.r.status !== 200, 'the stuck request got a normal answer');
  agent.destroy();
});

// ---- slow clients -------------------------------------------------------------------------------

test('slow clients: a stalled header, a dripped header and a stalled body are cut after ~1 s; others served', T, async () => {
  const p = await startProxy({ yaml: configYaml('timeouts: {header_ms: 1000, body_ms: 1000}\n') });

  // A well-behaved client, served throughout.
  let stop = false;
  const served = [], failures = [];
  const agent = new TunnelAgent(p);
  const good = (async () => {
    for (let i = 0; !stop; i++) {
      const t0 = Date.now();
      try {
        const r = await request(agent, { method: 'POST', path: '/upload', body: `good ${i}` });
        if (r.status === 200) served.push(Date.now() - t0); else failures.push(`#${i}: ${r.status}`);
      } catch (e) {
        failures.push(`#${i}: ${e.message}`);
      }
      await sleep(100);
    }
  })();

  const timed = async (fn) => { const t0 = Date.now(); const r = await fn(); return { ...r, ms: Date.now() - t0 }; };
  const half = timed(async () => rawExchange(await rawPlain(p), ['CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.an'], { timeoutMs: 6000 }));
  const head = 'CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\nUser-Agent: drip\r\n\r\n';
  const drip = timed(async () => rawExchange(await rawPlain(p), [...head], { timeoutMs: 6000, gapMs: 150 }));
  const m = marker('slowbody');
  const body = timed(async () => {
    const s = await tlsThroughProxy(p, 'api.anthropic.com');
    return rawExchange(s, [`POST /upload?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789`],
      { timeoutMs: 6000 });
  });
  const [h, d, b] = await Promise.all([half, drip, body]);
  stop = true;
  await good;
  agent.destroy();

  for (const [r, what] of [[h, 'half header'], [d, 'dripped header'], [b, 'stalled body']]) {
    assert.ok(!r.timedOut, `${what}: still open after 6 s`);
    // The deadline leaves the socket open, so the documented 408 reaches the client.
    assert.equal(r.status, 408, `${what}: answered ${r.status}: ${r.text}`);
    assert.ok(r.ms >= 700 && r.ms < 3000, `${what}: cut after ${r.ms} ms (timeout 1000 ms)`);
  }
  assert.equal(recordEntries(m).length, 0, 'the incomplete body was forwarded');
  assert.deepEqual(failures, [], 'the well-behaved client failed');
  assert.ok(served.length >= 5, `the well-behaved client got only ${served.length} answers`);
  assert.ok(Math.max(...served) < 1000, `a well-behaved request took ${Math.max(...served)} ms`);
  assert.ok(p.alive());
  await p.stop();
});

// ---- memory budget --------------------------------------------------------------------------------

// Bodies held in memory, all connections together, stay under max_buffered_body_bytes: a request
// that does not fit is read, dropped and answered 503 (keep-alive), and the budget frees when a
// body leaves: at the upstream's response header, not at the end of a streamed answer.
test('max_buffered_body_bytes: a body that does not fit gets 503 and is not forwarded; the budget frees', T, async () => {
  const p = await startProxy({ yaml: configYaml('max_body_bytes: 40000\nmax_buffered_body_bytes: 60000\n') });
  const agent = new TunnelAgent(p);
  const buffered = async () => metric(await scrape(p), 'promptgate_buffered_request_bytes');
  const waitBuffered = async (want) => {
    let now;
    for (let i = 0; i < 100 && (now = await buffered()) !== want; i++) await sleep(50);
    assert.equal(now, want, 'promptgate_buffered_request_bytes');
  };
  const json = (m, size, extra = {}) => {
    const b = messagesBody(`${m} `, extra);
    return b.replace(`${m} `, `${m} ${'x'.repeat(size - b.length)}`);
  };
  try {
    // A client holds 40000 bytes: its Content-Length is reserved while the body trickles in.
    const m1 = marker('holder');
    const body1 = json(m1, 40000);
    const s = await tlsThroughProxy(p, 'api.anthropic.com');
    let answer1 = '';
    s.on('data', (d) => { answer1 += d; });
    s.write(`POST /v1/messages?m=${m1} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: application/json\r\nContent-Length: ${body1.length}\r\n\r\n${body1.slice(0, 1000)}`);
    await waitBuffered(40000);

    // 30000 more do not fit: 503, Anthropic-shaped, retryable, never forwarded, connection kept.
    const m2 = marker('shed');
    const r2 = await request(agent, { method: 'POST', path: `/v1/messages?m=${m2}`, headers: { 'content-type': 'application/json' }, body: json(m2, 30000) });
    assert.equal(r2.status, 503, r2.body.toString());
    const e2 = JSON.parse(r2.body.toString());
    assert.equal(e2.type, 'error');
    assert.equal(e2.error.type, 'overloaded_error');
    assert.match(e2.error.message, /max_buffered_body_bytes/);
    assert.equal(r2.headers['retry-after'], '1');
    assert.notEqual(r2.headers.connection, 'close');
    // 10000 do fit, on the same connection.
    const m3 = marker('fits');
    const r3 = await request(agent, { method: 'POST', path: `/v1/messages?m=${m3}`, headers: { 'content-type': 'application/json' }, body: json(m3, 10000) });
    assert.equal(r3.status, 200, r3.body.toString());
    assert.equal(agent.connects, 1, 'the 503 closed the connection');

    // The holder finishes and is served; the budget is empty again.
    s.write(body1.slice(1000));
    for (let i = 0; i < 100 && !/^HTTP\/1\.1 200[^]*\r\n\r\n\{/.test(answer1); i++) await sleep(50);
    assert.match(answer1, /^HTTP\/1\.1 200/);
    s.destroy();
    await waitBuffered(0);
    assert.equal(recordEntries(m1).length, 1);
    assert.equal(recordEntries(m2).length, 0, 'the shed body was forwarded');
    assert.equal(recordEntries(m3).length, 1);

    // While an answer streams (an SSE event every 400 ms), its request body is no longer held.
    const m4 = marker('streaming');
    const streamed = new Promise((resolve, reject) => {
      const req = https.request({ host: 'api.anthropic.com', port: 443, method: 'POST', path: `/v1/messages?m=${m4}`, agent, servername: 'api.anthropic.com',
        headers: { 'content-type': 'application/json', 'x-fake-delay-ms': '400' } }, (res) => {
        let first = true, text = '';
        res.setEncoding('utf8');
        res.on('data', async (d) => {
          text += d;
          if (first) { first = false; resolve({ res, during: await buffered(), done: new Promise((r) => res.on('end', () => r(text))) }); }
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(json(m4, 39000, { stream: true }));
    });
    const { res: res4, during, done } = await streamed;
    assert.equal(res4.statusCode, 200);
    assert.equal(during, 0, 'the body was still held while the answer streamed');
    assert.match(await done, /event: message_stop/);

    // The 30000-byte request now fits; the shed one was counted and audited.
    const m5 = marker('retry');
    const r5 = await request(agent, { method: 'POST', path: `/v1/messages?m=${m5}`, headers: { 'content-type': 'application/json' }, body: json(m5, 30000) });
    assert.equal(r5.status, 200, r5.body.toString());
    const text = await scrape(p);
    assert.equal(metric(text, 'promptgate_requests_shed_total'), 1);
    assert.equal(metric(text, 'promptgate_buffered_request_bytes'), 0);
    const shed = await waitAudit(p.audit, (e) => e.path === '/v1/messages' && e.status === 503);
    assert.equal(shed.decision, 'error');
    assert.equal(shed.body_bytes, 30000);
    assert.ok(p.alive());
  } finally {
    agent.destroy();
    await p.stop();
  }
});

// The budget is taken as a body arrives, a step (1 MiB) ahead of it, not for the length a header
// announces: connections that announce large bodies and send nothing cannot fill it.
test('max_buffered_body_bytes: announced but unsent bodies hold only a step of the budget', T, async () => {
  const p = await startProxy({ yaml: configYaml('max_body_bytes: 4194304\nmax_buffered_body_bytes: 5242880\n') });
  const agent = new TunnelAgent(p);
  const stalled = [];
  try {
    for (let i = 0; i < 3; i++) {
      const s = await tlsThroughProxy(p, 'api.anthropic.com');
      s.on('error', () => {});
      s.write(`POST /upload?m=${marker('announce')} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: text/plain\r\nContent-Length: 4194304\r\n\r\nabc`);
      stalled.push(s);
    }
    let held;
    for (let i = 0; i < 100 && (held = metric(await scrape(p), 'promptgate_buffered_request_bytes')) !== 3 * 1048576; i++) await sleep(50);
    assert.equal(held, 3 * 1048576, 'three announced 4 MiB bodies should hold one step each');
    // 1.5 MiB more fits beside them (3 + 1.5 <= 5 MiB); reserving the announced 12 MiB would not.
    const m = marker('beside');
    const r = await request(agent, { method: 'POST', path: `/upload?m=${m}`, headers: { 'content-type': 'text/plain' }, body: 'y'.repeat(1572864) });
    assert.equal(r.status, 200, r.body.toString().slice(0, 300));
    assert.equal(JSON.parse(r.body.toString()).bytes, 1572864);
  } finally {
    for (const s of stalled) s.destroy();
    agent.destroy();
    await p.stop();
  }
});

// ---- connection caps ----------------------------------------------------------------------------

test('max_connections_per_client 3: the 4th is closed at once, a slot frees on close, other clients unaffected', T, async () => {
  const p = await startProxy({ yaml: configYaml('max_connections_per_client: 3\n') });
  const open = [];
  try {
    for (let i = 0; i < 3; i++) open.push(await rawPlain(p));
    await sleep(200);
    const t0 = Date.now();
    const fourth = await rawExchange(await rawPlain(p), [], { timeoutMs: 3000 });
    assert.ok(fourth.closed && !fourth.timedOut, 'the 4th connection was not closed');
    assert.equal(fourth.data.length, 0, `the 4th connection got data: ${fourth.text}`);
    assert.ok(Date.now() - t0 < 1000, `the 4th connection closed after ${Date.now() - t0} ms`);

    // Another client address is not limited by 127.0.0.1's connections.
    let other = null;
    try {
      other = await connectWith(p, 'api.anthropic.com:443', {}, { localAddress: '127.0.0.2' });
    } catch (e) {
      if (e.code !== 'EADDRNOTAVAIL') throw e;
    }
    if (other) { assert.equal(other.status, 200, 'a connection from 127.0.0.2 was refused'); other.socket.destroy(); }

    // Closing one frees a slot.
    open[0].destroy();
    await sleep(300);
    const again = await openConnect(p, 'api.anthropic.com:443');
    assert.equal(again.status, 200, 'a new connection after closing one was refused');
    again.socket.destroy();

    const text = await scrape(p);
    assert.equal(metric(text, 'promptgate_connections_refused_total', { reason: 'per_client' }), 1);
    assert.equal(metric(text, 'promptgate_connections_refused_total', { reason: 'max_connections' }), 0);
  } finally {
    for (const s of open) s.destroy();
    await p.stop();
  }
});

// ---- CONNECT safety ------------------------------------------------------------------------------

test('CONNECT safety: disallowed ports and internal addresses get 403 at once; connect_to hosts are allowed', T, async () => {
  const p = await startProxy({ yaml: configYaml() }); // default: tunnel
  const cases = [
    ['127.0.0.1:22', /port 22/],
    ['example.com:25', /port 25/],
    ['127.0.0.1:443', /internal address/],
    ...(localhostResolves ? [['localhost:443', /internal address/]] : []),
    ['10.1.2.3:443', /internal address/],
    ['169.254.169.254:443', /internal address/],
    ['[::1]:443', /internal address/],
  ];
  for (const [authority, why] of cases) {
    const t0 = Date.now();
    const r = await connectWith(p, authority, {}, { timeoutMs: 5000 });
    const text = await readAll(r.socket, r.head);
    assert.equal(r.status, 403, `CONNECT ${authority}: ${r.status} ${text}`);
    assert.match(text, why, `CONNECT ${authority}: ${text}`);
    assert.ok(Date.now() - t0 < 1000, `CONNECT ${authority} took ${Date.now() - t0} ms (a connection attempt?)`);
    const line = await waitAudit(p.audit, (l) => l.method === 'CONNECT' && l.status === 403 && `${l.host}:${l.port}` === authority.replace(/[[\]]/g, ''));
    assert.ok(line, `no audit line for CONNECT ${authority}: ${JSON.stringify(p.auditLines().slice(-3))}`);
    assert.equal(line.decision, 'deny');
  }
  // The host named by connect_to (its target is 127.0.0.1) works.
  const ok = await openConnect(p, 'api.anthropic.com:443');
  assert.equal(ok.status, 200);
  ok.socket.destroy();
  assert.ok(p.alive());
  await p.stop();
});

test('CONNECT safety: a connect_to mapping exempts only its own host:port from the port check', T, async () => {
  // --connect-to names api.anthropic.com:443; api.anthropic.com:8443 is not mapped (it would go to
  // the real host on port 8443), so allowed_connect_ports [443] must still refuse it.
  const p = await startProxy({ yaml: configYaml() });
  const r = await connectWith(p, 'api.anthropic.com:8443', {}, { timeoutMs: 5000 });
  const text = await readAll(r.socket, r.head);
  assert.equal(r.status, 403, `CONNECT api.anthropic.com:8443 (not mapped by connect_to): ${r.status} ${text}`);
  assert.match(text, /port 8443/);
  await p.stop();
});

test('CONNECT safety with interception: internal addresses are refused too', T, async () => {
  const p = await startProxy({ yaml: 'destinations:\n  default: intercept\n' });
  const r = await connectWith(p, '127.0.0.1:443');
  const text = await readAll(r.socket, r.head);
  assert.equal(r.status, 403, `CONNECT 127.0.0.1:443 (intercept): ${r.status} ${text}`);
  assert.match(text, /internal address/);
  // A name that resolves to loopback: the CONNECT is answered (the host is intercepted), the
  // request inside is refused before any upstream connection.
  const agent = new TunnelAgent(p);
  if (!localhostResolves) console.log('# skipped: localhost does not resolve here (no /etc/hosts)');
  else try {
    const m = marker('internal');
    const res = await request(agent, { host: 'localhost', path: `/internal?m=${m}` });
    assert.equal(res.status, 403, `request to intercepted localhost: ${res.status} ${res.body}`);
    assert.match(res.body.toString(), /internal address/);
    assert.equal(recordEntries(m).length, 0);
  } finally {
    agent.destroy();
  }
  // connect_to still wins.
  const a2 = new TunnelAgent(p);
  try {
    const res = await request(a2, { path: '/v1/models' });
    assert.equal(res.status, 200);
  } finally {
    a2.destroy();
  }
  await p.stop();
});

// ---- metrics after known traffic -----------------------------------------------------------------

test('metrics after 3 clean and 2 blocked requests', T, async () => {
  const p = await startProxy();
  const toks = [githubToken(), githubToken()];
  const bodies = [];
  for (let i = 0; i < 3; i++) {
    const r = await postMessages(p, `clean metrics ${i} ${marker()}`);
    assert.equal(r.status, 200, r.body);
  }
  for (const tok of toks) {
    const r = await postMessages(p, `blocked metrics ${tok}`);
    assert.equal(r.status, 400, r.body);
  }
  await waitFor(() => p.auditLines().filter((l) => l.path === '/v1/messages').length >= 5, 3000);
  const lines = p.auditLines().filter((l) => l.path === '/v1/messages');
  assert.equal(lines.length, 5);
  for (const l of lines) bodies.push(l.body_bytes);
  const rules = [...new Set(lines.flatMap((l) => (l.findings || []).map((f) => f.rule)))];
  assert.deepEqual(rules, ['github-pat-classic']);

  const text = await scrape(p);
  assert.equal(metric(text, 'promptgate_requests_total', { decision: 'allow', host: 'api.anthropic.com' }), 3);
  assert.equal(metric(text, 'promptgate_requests_total', { decision: 'block', host: 'api.anthropic.com' }), 2);
  assert.equal(metric(text, 'promptgate_findings_total', { action: 'block', category: 'credential', rule: 'github-pat-classic' }), 2);
  assert.ok(metric(text, 'promptgate_connections_total') >= 5, 'promptgate_connections_total');
  const scanned = metric(text, 'promptgate_scanned_bytes_total');
  const total = bodies.reduce((a, b) => a + b, 0);
  assert.ok(scanned > 0 && scanned >= total, `promptgate_scanned_bytes_total ${scanned}, bodies ${total}`);
  assert.equal(metric(text, 'promptgate_request_duration_seconds_count'), 5);
  assert.equal(metric(text, 'promptgate_ready'), 1);
  const audit = fs.readFileSync(p.audit, 'utf8');
  for (const [t, what] of [[text, '/metrics'], [p.stderr, 'stderr'], [p.stdout, 'stdout'], [audit, 'audit log']]) assertNoSecret(t, toks, what);
  await p.stop();
});
