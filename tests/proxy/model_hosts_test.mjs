// Integration tests of the model-host catalogue (docs/model-hosts.md) in a running proxy: a
// CONNECT to an IP address is read when its ClientHello names a model host (and tunnelled,
// refused or left to the address's policy otherwise), plain HTTP to a catalogued host is scanned
// like HTTPS while plain HTTP elsewhere stays as configured, and a config that tunnels a
// catalogued host is warned about at start and counted in promptgate_model_host_tunnelled_total,
// and an HTTP/2-only (gRPC) client gets no h2 and has its preface refused, nothing forwarded.
// Run through run_tests.sh (fake API on 127.0.0.1 with a certificate for api.anthropic.com).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import tls from 'node:tls';
import fs from 'node:fs';
import {
  env, marker, githubToken, messagesBody, recordHas, startProxy, stopAll, waitAudit, openConnect,
  curl, sleep,
} from './lib.mjs';

const T = { timeout: 30000 };
after(stopAll);

// The fake API listens on 127.0.0.1: an internal address the proxy refuses unless allowed.
const ipConfig = (extra = '') => [
  'allowed_private_hosts: ["127.0.0.1"]',
  `allowed_connect_ports: [443, ${env.fakePort}]`,
  'destinations:',
  '  default: tunnel',
  extra,
].join('\n') + '\n';
const ipTarget = `127.0.0.1:${env.fakePort}`;

// CONNECT to `authority`, then TLS with `servername` ('' sends no SNI). Resolves the TLS socket
// and the certificate it was shown, or rejects with the handshake error.
async function tlsToAddress(p, authority, servername, { ca = p.ca, checkName = true } = {}) {
  const { status, socket } = await openConnect(p, authority);
  if (status !== 200) { socket.destroy(); throw new Error(`CONNECT ${authority} answered ${status}`); }
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      socket, servername, ca, ALPNProtocols: ['http/1.1'],
      ...(checkName ? {} : { checkServerIdentity: () => undefined }),
    });
    s.once('secureConnect', () => resolve({ socket: s, cert: s.getPeerCertificate() }));
    s.once('error', reject);
    s.once('close', () => reject(new Error('closed before the handshake completed')));
  });
}

// One HTTP/1.1 request on an open socket; resolves {status, body}.
function exchange(socket, { method = 'POST', path = '/v1/messages', host, body = '' }) {
  return new Promise((resolve, reject) => {
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => {
      data += d;
      const end = data.indexOf('\r\n\r\n');
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(data);
      if (end >= 0 && m && data.length >= end + 4 + Number(m[1])) {
        resolve({ status: Number(data.slice(9, 12)), body: data.slice(end + 4) });
      }
    });
    socket.on('error', reject);
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });
}

async function metricsText(p) {
  const r = await curl([`http://127.0.0.1:${p.adminPort}/metrics`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('CONNECT to an IP address: a ClientHello naming a model host is intercepted and scanned', T, async () => {
  const p = await startProxy({ yaml: ipConfig() });
  try {
    // The client trusts only promptgate's CA and checks the name: the leaf was minted for the
    // name in the ClientHello, so the connection is read.
    const clean = await tlsToAddress(p, ipTarget, 'api.anthropic.com');
    assert.match(clean.cert.subjectaltname, /DNS:api\.anthropic\.com/);
    const m = marker('ipclean');
    const ok = await exchange(clean.socket, { host: 'api.anthropic.com', body: messagesBody(`hello ${m}`) });
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /fake model says/);
    assert.ok(recordHas(m), 'the clean request did not reach the fake API (at the address)');
    clean.socket.destroy();

    const token = githubToken();
    const dirty = await tlsToAddress(p, ipTarget, 'api.anthropic.com');
    const blocked = await exchange(dirty.socket, { host: 'api.anthropic.com', body: messagesBody(`key ${token}`) });
    assert.equal(blocked.status, 400, blocked.body);
    assert.match(blocked.body, /github-pat-classic/);
    assert.ok(!recordHas(token), 'the token reached the fake API');
    dirty.socket.destroy();
    const line = await waitAudit(p.audit, (l) => l.decision === 'block' && l.host === 'api.anthropic.com');
    assert.ok(line, JSON.stringify(p.auditLines().slice(-3)));
    assert.equal(line.port, env.fakePort);
    assert.equal(line.destination, 'intercept');
  } finally {
    await p.stop();
  }
});

test('CONNECT to an IP address: another name, no name or a denied name follow the policy', T, async () => {
  const p = await startProxy({ yaml: ipConfig('  deny: [denied.example]') });
  try {
    // A name that is not intercepted: the address's own policy, a tunnel to the fake API, whose
    // own certificate (from the upstream CA, which the client alone trusts here) it sees.
    const other = await tlsToAddress(p, ipTarget, 'not-a-model.example',
      { ca: fs.readFileSync(env.upstreamCa), checkName: false });
    const m = marker('iptunnel');
    const r = await exchange(other.socket, { method: 'GET', path: `/anything?m=${m}`, host: 'x' });
    assert.equal(r.status, 200);
    other.socket.destroy();
    // No SNI at all: the same.
    const none = await tlsToAddress(p, ipTarget, '', { ca: fs.readFileSync(env.upstreamCa), checkName: false });
    none.socket.destroy();
    const tunnelLines = () => p.auditLines().filter((l) => l.method === 'CONNECT' && l.decision === 'tunnel'
      && l.host === '127.0.0.1' && l.destination === 'tunnel');
    for (let i = 0; i < 60 && tunnelLines().length < 2; i++) await sleep(50);
    assert.equal(tunnelLines().length, 2, JSON.stringify(p.auditLines()));

    // A denied name: the connection is closed, nothing is relayed.
    await assert.rejects(tlsToAddress(p, ipTarget, 'denied.example', { checkName: false }));
    const denied = await waitAudit(p.audit, (l) => l.method === 'CONNECT' && l.decision === 'deny');
    assert.ok(denied, JSON.stringify(p.auditLines()));
    assert.match(denied.error, /ClientHello names denied\.example/);

    // Not TLS at all (a client that sends plain bytes): tunnelled as the address's policy says.
    const { socket } = await openConnect(p, ipTarget);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const text = await new Promise((resolve) => {
      let d = '';
      socket.on('data', (c) => { d += c; });
      socket.on('close', () => resolve(d));
      setTimeout(() => { socket.destroy(); }, 2000);
    });
    assert.doesNotMatch(text, /promptgate/, 'a non-TLS client got an answer from promptgate');
    for (let i = 0; i < 60 && tunnelLines().length < 3; i++) await sleep(50);
    assert.equal(tunnelLines().length, 3, JSON.stringify(p.auditLines()));
    assert.ok(tunnelLines()[2].tunnel_bytes_up >= 'GET / HTTP/1.1'.length, JSON.stringify(tunnelLines()[2]));
  } finally {
    await p.stop();
  }
});

test('CONNECT to an IP address: an internal address is refused before any ClientHello', T, async () => {
  // No allowed_private_hosts: 127.0.0.1 is internal, whatever name a ClientHello would carry.
  const p = await startProxy({ yaml: `allowed_connect_ports: [443, ${env.fakePort}]\n` });
  try {
    const r = await openConnect(p, ipTarget);
    assert.equal(r.status, 403);
    r.socket.destroy();
    const line = await waitAudit(p.audit, (l) => l.method === 'CONNECT' && l.status === 403);
    assert.match(line.error, /internal address/);
  } finally {
    await p.stop();
  }
});

test('a config that tunnels a model host: warned at start, counted per request', T, async () => {
  const p = await startProxy({
    yaml: ipConfig('  tunnel: [chatgpt.com, api.openai.com]'),
    args: ['--connect-to', `chatgpt.com:443:127.0.0.1:${env.fakePort}`],
  });
  try {
    assert.match(p.stderr, /warning: .*chatgpt\.com \(OpenAI ChatGPT back end\) is a model API, tunnelled unread: tunnel entry 'chatgpt\.com' comes first/);
    assert.match(p.stderr, /promptgate_model_host_tunnelled_total/);
    // By name (connect_to sends it to the fake API), and by address with the name in the SNI.
    const byName = await openConnect(p, 'chatgpt.com:443');
    assert.equal(byName.status, 200);
    byName.socket.destroy();
    const byAddress = await tlsToAddress(p, ipTarget, 'api.openai.com',
      { ca: fs.readFileSync(env.upstreamCa), checkName: false });
    byAddress.socket.destroy();
    let text = '';
    for (let i = 0; i < 40; i++) {
      text = await metricsText(p);
      if (/promptgate_model_host_tunnelled_total\{host="api.openai.com"\} 1/.test(text)) break;
      await sleep(50);
    }
    assert.match(text, /promptgate_model_host_tunnelled_total\{host="chatgpt.com"\} 1/);
    assert.match(text, /promptgate_model_host_tunnelled_total\{host="api.openai.com"\} 1/);
  } finally {
    await p.stop();
  }
});

test('plain HTTP: a catalogued host is scanned like HTTPS; another host stays as configured', T, async () => {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      seen.push({ host: req.headers.host, url: req.url, body: Buffer.concat(chunks).toString() });
      res.end('plain ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const p = await startProxy({
    yaml: 'destinations:\n  default: tunnel\n  tunnel: [api.groq.com]\n',
    args: ['--connect-to', `api.openai.com:80:127.0.0.1:${port}`, '--connect-to', `plain.example:80:127.0.0.1:${port}`,
      '--connect-to', `api.groq.com:80:127.0.0.1:${port}`],
  });
  try {
    const send = (url, text) => curl(['-x', p.proxyUrl, '-H', 'content-type: application/json', '-d', messagesBody(text),
      '-w', '\n%{http_code}', url]);
    const m = marker('plainopenai');
    const clean = await send('http://api.openai.com/v1/chat/completions', `hello ${m}`);
    assert.match(clean.stdout, /plain ok\n200$/, clean.stdout + clean.stderr);
    assert.ok(seen.some((x) => x.body.includes(m) && x.host === 'api.openai.com'));

    const token = githubToken();
    const blocked = await send('http://api.openai.com/v1/chat/completions', `key ${token}`);
    assert.match(blocked.stdout, /github-pat-classic[\s\S]*\n400$/, blocked.stdout);
    assert.ok(!seen.some((x) => x.body.includes(token)), 'the token reached the plain-HTTP server');
    const line = await waitAudit(p.audit, (l) => l.host === 'api.openai.com' && l.decision === 'block');
    assert.ok(line, JSON.stringify(p.auditLines().slice(-3)));
    assert.equal(line.destination, 'intercept');

    // Not intercepted: forwarded as configured (unscanned), the token included.
    const other = githubToken();
    const passed = await send('http://plain.example/upload', `key ${other}`);
    assert.match(passed.stdout, /plain ok\n200$/, passed.stdout);
    assert.ok(seen.some((x) => x.body.includes(other)));
    // A catalogued host the config tunnels: forwarded unscanned too, and counted.
    const groq = githubToken();
    const tunnelled = await send('http://api.groq.com/openai/v1/chat/completions', `key ${groq}`);
    assert.match(tunnelled.stdout, /plain ok\n200$/, tunnelled.stdout);
    const text = await metricsText(p);
    assert.match(text, /promptgate_model_host_tunnelled_total\{host="api.groq.com"\} 1/);
    assert.doesNotMatch(text, /promptgate_model_host_tunnelled_total\{host="plain.example"\}/);
  } finally {
    await p.stop();
    server.close();
  }
});

test('HTTP/2: an h2-only client gets no ALPN protocol, and its preface is refused unforwarded', T, async () => {
  const p = await startProxy();
  try {
    const { status, socket } = await openConnect(p, 'api.anthropic.com:443');
    assert.equal(status, 200);
    const s = await new Promise((resolve, reject) => {
      const t = tls.connect({ socket, servername: 'api.anthropic.com', ca: p.ca, ALPNProtocols: ['h2'] });
      t.once('secureConnect', () => resolve(t));
      t.once('error', reject);
    });
    assert.equal(s.alpnProtocol, false, 'promptgate offered a protocol to an h2-only client');
    const m = marker('h2');
    // The HTTP/2 connection preface, an empty SETTINGS frame, then bytes a HEADERS frame would
    // carry (with a marker that must not reach the upstream).
    const preface = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
      Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), Buffer.from(`/v1/messages?m=${m}`)]);
    const answer = await new Promise((resolve) => {
      let d = '';
      s.on('data', (c) => { d += c; });
      s.on('close', () => resolve(d));
      s.on('error', () => resolve(d));
      s.write(preface);
      setTimeout(() => { s.destroy(); resolve(d); }, 3000);
    });
    assert.match(answer, /^HTTP\/1\.1 400 /, answer);
    assert.ok(!recordHas(m), 'HTTP/2 bytes reached the fake API');
    const line = await waitAudit(p.audit, (l) => l.status === 400 && /malformed request/.test(l.error ?? ''));
    assert.ok(line, JSON.stringify(p.auditLines().slice(-3)));
  } finally {
    await p.stop();
  }
});
