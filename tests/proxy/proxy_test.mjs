// Integration tests of `promptgate run` with real clients (curl, Node's https/tls) against the
// fake Anthropic API (fake_api.mjs). Run through run_tests.sh, which makes the upstream PKI and
// starts the fake API. Each test asserts what the client got, what the upstream received (the
// fake API's record) and what the audit log says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFile } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import {
  env, sleep, sha256, marker, githubToken, awsKeyId, anthropicKey, secretPieces, messagesBody,
  readRecord, recordHas, recordEntries, startProxy, stopAll, readAudit, waitAudit, curl, curlApi,
  writeTemp, configYaml, openConnect, tlsThroughProxy, TunnelAgent, request, rawExchange, rawPlain, bodyOf, closedPort,
} from './lib.mjs';

const T = { timeout: 30000 };
let pg; // the default proxy: command-line flags only, built-in config

before(async () => {
  pg = await startProxy();
});
after(async () => {
  await stopAll();
});

function assertErrorShape(body, type) {
  let j;
  assert.doesNotThrow(() => { j = JSON.parse(body); }, `error body is not JSON: ${body}`);
  assert.equal(j.type, 'error', body);
  assert.equal(typeof j.error, 'object', body);
  if (type) assert.equal(j.error.type, type, body);
  assert.equal(typeof j.error.message, 'string', body);
  return j;
}
function assertNoLeak(text, secret, what) {
  for (const piece of secretPieces(secret)) assert.ok(!text.includes(piece), `${what} contains (part of) the secret`);
}
async function assertHealthy(proxy, why) {
  assert.ok(proxy.alive(), `promptgate died after ${why}; stderr:\n${proxy.stderr}`);
  const m = marker('health');
  const f = writeTemp('health.json', messagesBody(`health check ${m}`));
  const r = await curlApi(proxy, '/upload', ['--data-binary', `@${f}`]);
  assert.equal(r.code, 0, `clean request after ${why} failed: ${r.stderr}`);
  assert.equal(r.status, 200, `clean request after ${why}: ${r.status} ${r.body}`);
}

// ---- forwarding -------------------------------------------------------------------------------

test('curl: a clean body is forwarded byte for byte and the answer comes back', T, async () => {
  const m = marker('clean');
  // Odd spacing, escapes and non-ASCII: any re-serialization would change the bytes.
  const body = `{ "model":"claude-test-1",  "max_tokens": 64,\n "messages":[{"role":"user","content":"ECHO: ${m} caf\\u00e9 ✓ \\"q\\""}] ,"stream":false}`;
  const f = writeTemp('clean.json', body);
  const r = await curlApi(pg, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${f}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 200, r.body);
  const answer = JSON.parse(r.body);
  assert.equal(answer.type, 'message');
  assert.match(answer.content[0].text, new RegExp(`fake model says: ${m}`));
  const seen = recordEntries(m);
  assert.equal(seen.length, 1, 'the fake API saw the request exactly once');
  assert.equal(seen[0].method, 'POST');
  assert.equal(seen[0].path, '/v1/messages');
  assert.equal(seen[0].headers.host, 'api.anthropic.com');
  assert.equal(seen[0].body_sha256, sha256(Buffer.from(body)), 'body changed on the way');
  const line = await waitAudit(pg.audit, (l) => l.path && l.path.startsWith('/v1/messages') && l.body_bytes === Buffer.byteLength(body));
  assert.ok(line, `no audit line for the request: ${JSON.stringify(pg.auditLines())}`);
  assert.equal(line.decision, 'allow');
  assert.equal(line.method, 'POST');
  assert.equal(line.host, 'api.anthropic.com');
  assert.equal(line.model, 'claude-test-1');
  assert.deepEqual(line.findings, []);
  assert.equal(line.upstream_status, 200);
  for (const k of ['time', 'request_id', 'client', 'scan_us', 'upstream_ms']) assert.ok(k in line, `audit line lacks ${k}`);
});

test('Node https over one CONNECT tunnel: three keep-alive requests on one TLS connection', T, async () => {
  const agent = new TunnelAgent(pg);
  try {
    const sockets = new Set();
    for (let i = 0; i < 3; i++) {
      const body = Buffer.from(`keepalive ${i} ${marker()} `.repeat(50 + i));
      const r = await request(agent, { method: 'POST', path: '/upload', body, headers: { 'content-type': 'text/plain' } });
      assert.equal(r.status, 200, r.body.toString());
      const j = JSON.parse(r.body);
      assert.equal(j.bytes, body.length);
      assert.equal(j.sha256, sha256(body));
      sockets.add(r.socket);
    }
    assert.equal(sockets.size, 1, 'the three requests did not share one connection');
    assert.equal(agent.connects, 1, 'more than one CONNECT was needed');
  } finally {
    agent.destroy();
  }
});

test('upstream connections are pooled per thread: client connections in turn share one; a reload starts afresh', T, async () => {
  const p = await startProxy({ args: ['--threads', '1'] });
  const upstreamPort = async () => {
    const m = marker('pool');
    const f = writeTemp('pool.json', messagesBody(`ECHO: ${m}`));
    const r = await curlApi(p, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${f}`]);
    assert.equal(r.status, 200, r.stderr + r.body);
    const seen = recordEntries(m);
    assert.equal(seen.length, 1);
    assert.ok(seen[0].conn_port > 0, JSON.stringify(seen[0]));
    return seen[0].conn_port;
  };
  const first = await upstreamPort();
  assert.equal(await upstreamPort(), first, 'the second client connection opened a new upstream connection');
  // A reload may change upstream trust or routing: connections made before it are not reused.
  p.proc.kill('SIGHUP');
  for (let i = 0; i < 100 && !/reloaded/.test(p.stderr); i++) await sleep(50);
  assert.match(p.stderr, /reloaded/);
  assert.notEqual(await upstreamPort(), first, 'an upstream connection from before the reload was reused');
  await p.stop();
});

test('keep-alive across a block: clean, blocked, clean on one connection', T, async () => {
  const agent = new TunnelAgent(pg);
  try {
    const tok = githubToken();
    const m = marker('kab');
    const bodies = [messagesBody(`${m} one`), messagesBody(`${m} two ${tok} ${'pad '.repeat(2000)}`), messagesBody(`${m} three`)];
    const statuses = [], sockets = new Set();
    for (const body of bodies) {
      const r = await request(agent, { method: 'POST', path: '/v1/messages', body, headers: { 'content-type': 'application/json' } });
      statuses.push(r.status);
      sockets.add(r.socket);
    }
    assert.deepEqual(statuses, [200, 400, 200]);
    assert.equal(agent.connects, 1, 'the connection was not kept after the block');
    assert.equal(recordEntries(m).length, 2);
    assert.ok(!recordHas(tok));
  } finally {
    agent.destroy();
  }
});

test('the leaf certificate is minted by the promptgate CA for the requested name', T, async () => {
  const s = await tlsThroughProxy(pg, 'api.anthropic.com');
  try {
    const cert = s.getPeerCertificate(true);
    assert.ok(s.authorized, 'TLS not authorized against the promptgate CA');
    assert.match(cert.subjectaltname || '', /DNS:api\.anthropic\.com/);
    const ca = new crypto.X509Certificate(pg.ca);
    assert.ok(new crypto.X509Certificate(cert.raw).checkIssued(ca), 'leaf not issued by $PROMPTGATE_HOME/ca.pem');
  } finally {
    s.destroy();
  }
});

test('a client that does not trust the promptgate CA fails TLS (curl exit 60)', T, async () => {
  const r = await curl(['--proxy', pg.proxyUrl, '--cacert', env.upstreamCa, '-d', '{}', 'https://api.anthropic.com/v1/messages']);
  assert.equal(r.code, 60, `curl exit ${r.code}: ${r.stderr}`);
});

test('the client\'s own x-api-key and authorization headers are not findings', T, async () => {
  const m = marker('hdr');
  const tok = githubToken();
  const f = writeTemp('hdr.json', messagesBody(`hello ${m}`));
  const r = await curlApi(pg, '/v1/messages', ['-H', `x-api-key: ${anthropicKey()}`, '-H', `authorization: Bearer ${tok}`,
    '--data-binary', `@${f}`]);
  assert.equal(r.status, 200, r.body);
  assert.equal(recordEntries(m).length, 1);
});

// ---- blocking and redaction --------------------------------------------------------------------

test('a synthetic GitHub token is blocked: 400, JSON error naming rule, location, fingerprint; no leak', T, async () => {
  const tok = githubToken();
  const m = marker('block');
  const body = messagesBody(`${m} my token is ${tok} please use it`);
  const f = writeTemp('block.json', body);
  const r = await curlApi(pg, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${f}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 400, r.body);
  assert.match(r.headers, /^content-type:\s*application\/json/im);
  const j = assertErrorShape(r.body, 'invalid_request_error');
  assert.match(j.error.message, /promptgate blocked this request/);
  assert.match(j.error.message, /github-pat-classic/);
  assert.match(j.error.message, /messages\[0\]\.content/);
  const fp = /fp_[0-9a-f]{16}/.exec(j.error.message);
  assert.ok(fp, `no fingerprint in ${j.error.message}`);
  assertNoLeak(r.body + r.headers, tok, 'the block response');
  assert.equal(recordEntries(m).length, 0, 'the blocked request reached the upstream');
  assert.ok(!recordHas(tok), 'the upstream saw the token');
  const line = await waitAudit(pg.audit, (l) => l.decision === 'block' && JSON.stringify(l).includes(fp[0]));
  assert.ok(line, `no block audit line with ${fp[0]}: ${fs.readFileSync(pg.audit, 'utf8')}`);
  const finding = line.findings.find((x) => x.rule === 'github-pat-classic');
  assert.ok(finding, JSON.stringify(line));
  assert.equal(finding.category, 'credential');
  assert.equal(finding.location, 'messages[0].content');
  assert.equal(finding.length, tok.length);
  assert.equal(finding.fingerprint, fp[0]);
  assert.equal(finding.action, 'block');
  assertNoLeak(fs.readFileSync(pg.audit, 'utf8'), tok, 'the audit log');
});

test('a secret in the query string is blocked', T, async () => {
  const tok = githubToken();
  const m = marker('query');
  const r = await curlApi(pg, `/v1/models?m=${m}&token=${tok}`);
  assert.equal(r.status, 400, r.body);
  const j = assertErrorShape(r.body, 'invalid_request_error');
  assert.match(j.error.message, /github-pat-classic/);
  assertNoLeak(r.body, tok, 'the block response');
  assert.equal(recordEntries(m).length, 0, 'the upstream saw the request');
  assertNoLeak(fs.readFileSync(pg.audit, 'utf8'), tok, 'the audit log');
});

test('default actions: an AWS access key id is redacted (its rule\'s action is redact)', T, async () => {
  const key = awsKeyId();
  const m = marker('aws');
  const body = messagesBody(`${m} export AWS_ACCESS_KEY_ID=${key}`);
  const f = writeTemp('aws.json', body);
  const r = await curlApi(pg, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${f}`]);
  assert.equal(r.status, 200, r.body);
  const seen = recordEntries(m);
  assert.equal(seen.length, 1);
  assert.ok(!seen[0].body.includes(key), 'the key reached the upstream');
  const j = JSON.parse(seen[0].body);
  assert.match(j.messages[0].content, /\[REDACTED:aws-access-key-id\]/);
  assert.equal(Number(seen[0].headers['content-length']), seen[0].body_bytes);
});

test('redact config: the upstream gets valid JSON with [REDACTED:rule] and a correct Content-Length', T, async () => {
  const red = await startProxy({ yaml: configYaml('actions:\n  - {category: credential, action: redact}\n') });
  try {
    const tok = githubToken();
    const m = marker('redact');
    const body = JSON.stringify({
      model: 'claude-test-1', max_tokens: 64,
      messages: [{ role: 'user', content: [{ type: 'text', text: `${m} here it is ${tok} end` }] }],
    });
    const f = writeTemp('redact.json', body);
    const r = await curlApi(red, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${f}`]);
    assert.equal(r.status, 200, r.body);
    const seen = recordEntries(m);
    assert.equal(seen.length, 1, 'the redacted request did not arrive once');
    assertNoLeak(seen[0].body, tok, 'the forwarded body');
    const j = JSON.parse(seen[0].body);
    assert.equal(j.messages[0].content[0].text, `${m} here it is [REDACTED:github-pat-classic] end`);
    assert.equal(Number(seen[0].headers['content-length']), seen[0].body_bytes, 'Content-Length not fixed');
    const line = await waitAudit(red.audit, (l) => l.decision === 'redact');
    assert.ok(line, fs.readFileSync(red.audit, 'utf8'));
    assert.equal(line.findings[0].rule, 'github-pat-classic');
    assertNoLeak(fs.readFileSync(red.audit, 'utf8'), tok, 'the audit log');
  } finally {
    await red.stop();
  }
});

test('monitor mode: a secret is forwarded and the audit log says it would have been blocked', T, async () => {
  const mon = await startProxy({ args: ['--mode', 'monitor'] });
  try {
    const tok = githubToken();
    const m = marker('monitor');
    const f = writeTemp('monitor.json', messagesBody(`${m} ${tok}`));
    const r = await curlApi(mon, '/v1/messages', ['--data-binary', `@${f}`]);
    assert.equal(r.status, 200, r.body);
    assert.equal(recordEntries(m).length, 1, 'monitor mode did not forward the request');
    const line = await waitAudit(mon.audit, (l) => Array.isArray(l.findings) && l.findings.some((x) => x.rule === 'github-pat-classic'));
    assert.ok(line, fs.readFileSync(mon.audit, 'utf8'));
    const text = JSON.stringify(line);
    assert.match(text, /block/, `audit line does not say it would block: ${text}`);
    assert.match(text, /monitor|would|enforced/, `audit line does not mention monitor mode: ${text}`);
    assertNoLeak(fs.readFileSync(mon.audit, 'utf8'), tok, 'the audit log');
  } finally {
    await mon.stop();
  }
});

// ---- request framing and encodings -------------------------------------------------------------

test('chunked request body: a secret is blocked, a clean body forwarded intact', T, async () => {
  const tok = githubToken();
  const m1 = marker('chunk');
  const f1 = writeTemp('chunk-secret.json', messagesBody(`${m1} ${'pad '.repeat(3000)} ${tok}`));
  const r1 = await curlApi(pg, '/v1/messages', ['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${f1}`]);
  assert.equal(r1.status, 400, r1.body);
  assert.match(r1.body, /github-pat-classic/);
  assert.equal(recordEntries(m1).length, 0);
  assert.ok(!recordHas(tok));

  const m2 = marker('chunk');
  const clean = messagesBody(`${m2} ${'clean '.repeat(5000)}`);
  const f2 = writeTemp('chunk-clean.json', clean);
  const r2 = await curlApi(pg, '/upload', ['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${f2}`]);
  assert.equal(r2.status, 200, r2.body);
  assert.equal(JSON.parse(r2.body).sha256, sha256(Buffer.from(clean)));
});

test('gzip request body: a secret inside is blocked; a clean one is forwarded as sent', T, async () => {
  const tok = githubToken();
  const m1 = marker('gz');
  const f1 = writeTemp('secret.json.gz', zlib.gzipSync(messagesBody(`${m1} ${tok}`)));
  const r1 = await curlApi(pg, '/v1/messages', ['-H', 'Content-Encoding: gzip', '-H', 'content-type: application/json', '--data-binary', `@${f1}`]);
  assert.equal(r1.status, 400, r1.body);
  assert.match(r1.body, /github-pat-classic/);
  assertNoLeak(r1.body, tok, 'the block response');
  assert.equal(recordEntries(m1).length, 0);
  assert.ok(!readRecord().some((e) => (e.body_decoded || '').includes(m1)), 'the gzip body reached the upstream');

  const m2 = marker('gz');
  const gz = zlib.gzipSync(messagesBody(`${m2} clean`));
  const f2 = writeTemp('clean.json.gz', gz);
  const r2 = await curlApi(pg, '/upload', ['-H', 'Content-Encoding: gzip', '--data-binary', `@${f2}`]);
  assert.equal(r2.status, 200, r2.body);
  assert.equal(JSON.parse(r2.body).sha256, sha256(gz), 'the gzip body was not forwarded byte for byte');
});

test('deflate, br: secrets inside are blocked', T, async () => {
  for (const [enc, fn] of [['deflate', zlib.deflateSync], ['br', zlib.brotliCompressSync]]) {
    const tok = githubToken();
    const f = writeTemp(`secret.${enc}`, fn(Buffer.from(messagesBody(`${tok}`))));
    const r = await curlApi(pg, '/v1/messages', ['-H', `Content-Encoding: ${enc}`, '--data-binary', `@${f}`]);
    assert.equal(r.status, 400, `${enc}: ${r.status} ${r.body}`);
    assert.ok(!recordHas(tok) && !readRecord().some((e) => (e.body_decoded || '').includes(tok)), `${enc}: leaked`);
  }
});

test('unsupported or corrupt Content-Encoding is refused with 415', T, async () => {
  const m1 = marker('enc');
  const f1 = writeTemp('x.json', messagesBody(`${m1}`));
  const r1 = await curlApi(pg, `/v1/messages?m=${m1}`, ['-H', 'Content-Encoding: x-unknown', '--data-binary', `@${f1}`]);
  assert.equal(r1.status, 415, r1.body);
  assertErrorShape(r1.body);
  const m2 = marker('enc');
  const f2 = writeTemp('corrupt.gz', Buffer.concat([zlib.gzipSync(messagesBody(m2)).subarray(0, 20), Buffer.from('garbage!garbage!')]));
  const r2 = await curlApi(pg, `/v1/messages?m=${m2}`, ['-H', 'Content-Encoding: gzip', '--data-binary', `@${f2}`]);
  assert.equal(r2.status, 415, r2.body);
  assertErrorShape(r2.body);
  assert.equal(recordEntries(m1).length + recordEntries(m2).length, 0);
});

test('a body over max_body_bytes is refused with 413 and not forwarded', T, async () => {
  const small = await startProxy({ yaml: configYaml('max_body_bytes: 2048\n') });
  try {
    const m = marker('big');
    const f = writeTemp('big.json', messagesBody(`${m} ${'x'.repeat(8192)}`));
    const r = await curlApi(small, `/v1/messages?m=${m}`, ['--data-binary', `@${f}`]);
    assert.equal(r.status, 413, r.body);
    assertErrorShape(r.body);
    assert.equal(recordEntries(m).length, 0);
    // Chunked, so the size is only known while reading.
    const m2 = marker('big');
    const f2 = writeTemp('big2.json', messagesBody(`${m2} ${'y'.repeat(8192)}`));
    const r2 = await curlApi(small, `/v1/messages?m=${m2}`, ['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${f2}`]);
    assert.ok(r2.status === 413 || (r2.status === 0 && r2.code !== 0), `chunked oversize: ${r2.status} ${r2.body}`);
    assert.equal(recordEntries(m2).length, 0);
    const ok = await curlApi(small, '/upload', ['--data-binary', '{"small":true}']);
    assert.equal(ok.status, 200, 'a small body is still forwarded');
  } finally {
    await small.stop();
  }
});

// ---- streaming ---------------------------------------------------------------------------------

// Streams one request through an agent; resolves {status, headers, events: [{name, t}]} where t is
// the arrival time in ms since the request was sent.
function streamEvents(agent, { method = 'GET', path: p, headers = {}, body = null }) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const req = https.request({ host: 'api.anthropic.com', port: 443, method, path: p, agent, servername: 'api.anthropic.com', headers }, (res) => {
      const events = [];
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          events.push({ name: /^event: (\S+)/.exec(buf.slice(0, i))?.[1], t: Date.now() - start });
          buf = buf.slice(i + 2);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, events }));
      res.on('error', reject);
    });
    req.setTimeout(15000, () => req.destroy(new Error('stream timed out')));
    req.on('error', (e) => reject(e.rawPacket
      ? new Error(`${e.message}; unparsable bytes after the response: ${JSON.stringify(e.rawPacket.toString('latin1'))}`) : e));
    req.end(body ?? undefined);
  });
}

// GET over a raw TLS connection through CONNECT; resolves {raw (Buffer), times: arrival ms of each
// SSE event, counted on the bytes as they arrive (independent of HTTP framing)}.
async function rawSse(proxy, p) {
  const s = await tlsThroughProxy(proxy, 'api.anthropic.com');
  const start = Date.now();
  return new Promise((resolve, reject) => {
    let raw = Buffer.alloc(0);
    const times = [];
    const t = setTimeout(() => { s.destroy(); reject(new Error(`no end of response; got ${raw.toString()}`)); }, 15000);
    s.on('data', (d) => {
      raw = Buffer.concat([raw, d]);
      const n = raw.toString('latin1').split('event: ').length - 1;
      while (times.length < n) times.push(Date.now() - start);
    });
    s.on('close', () => { clearTimeout(t); resolve({ raw, times }); });
    s.on('error', () => {});
    s.write(`GET ${p} HTTP/1.1\r\nHost: api.anthropic.com\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n`);
  });
}

// Decodes a chunked HTTP/1.1 response; returns {body, rest} (rest: bytes after the last chunk).
function dechunk(raw) {
  const s = raw.toString('latin1');
  let i = s.indexOf('\r\n\r\n') + 4, body = '';
  for (;;) {
    const eol = s.indexOf('\r\n', i);
    if (eol < 0) throw new Error(`chunked body cut short: ${JSON.stringify(s.slice(i))}`);
    const size = parseInt(s.slice(i, eol), 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size line ${JSON.stringify(s.slice(i, eol))}`);
    i = eol + 2;
    if (size === 0) {
      const end = s.indexOf('\r\n', i); // no trailers expected: one empty line
      return { body, rest: s.slice(end + 2) };
    }
    body += s.slice(i, i + size);
    i += size + 2;
  }
}

test('SSE: events arrive one by one as the upstream sends them', T, async () => {
  const { raw, times } = await rawSse(pg, '/sse?n=5&delay_ms=300');
  assert.match(raw.toString('latin1'), /^HTTP\/1\.1 200/);
  assert.match(raw.toString('latin1'), /\r\ncontent-type: text\/event-stream/i);
  assert.equal(times.length, 5, `got ${times.length} events: ${raw.toString()}`);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  for (const g of gaps) assert.ok(g >= 150, `events bunched up: arrivals ${times} ms`);
  assert.ok(times[0] < times[4] - 900, `arrivals ${times}`);
});

test('a streamed (chunked) response is framed correctly: one terminating chunk', T, async () => {
  const { raw } = await rawSse(pg, '/sse?n=3&delay_ms=10');
  const head = raw.toString('latin1').split('\r\n\r\n')[0];
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const { body, rest } = dechunk(raw);
    assert.equal(body.split('event: tick').length - 1, 3);
    assert.equal(rest, '', `bytes after the end of the response: ${JSON.stringify(rest)}`);
  } else {
    // Close-delimited or Content-Length framing: the body must be exactly the three events.
    assert.equal(raw.toString('latin1').slice(head.length + 4).split('event: tick').length - 1, 3);
  }
});

test('Messages API streaming through the proxy: SSE events spaced by the upstream delay', T, async () => {
  const agent = new TunnelAgent(pg);
  try {
    const r = await streamEvents(agent, { method: 'POST', path: '/v1/messages',
      headers: { 'content-type': 'application/json', 'x-fake-delay-ms': '150' },
      body: messagesBody('ECHO: streaming works fine through promptgate', { stream: true }) });
    assert.equal(r.status, 200);
    const names = r.events.map((e) => e.name);
    assert.deepEqual(names.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
    assert.equal(names[names.length - 1], 'message_stop');
    const times = r.events.map((e) => e.t);
    const spread = times[times.length - 1] - times[0];
    assert.ok(spread >= 150 * (times.length - 1) * 0.7, `events not streamed: arrivals ${times}`);
    for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 75, `events bunched up: ${times}`);
  } finally {
    agent.destroy();
  }
});

// ---- destination policy, upstream errors -------------------------------------------------------

test('destination policy: tunnel passes TLS end to end unscanned; deny answers 403', T, async () => {
  const plainSeen = [];
  const plain = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => { plainSeen.push({ url: req.url, body: Buffer.concat(chunks).toString() }); res.end('plain ok'); });
  });
  await new Promise((r) => plain.listen(0, '127.0.0.1', r));
  const yaml = [
    'listen: 127.0.0.1:0',
    `upstream_ca: ${JSON.stringify(env.upstreamCa)}`,
    `audit_log: ${JSON.stringify('AUDIT')}`,
    'connect_to:',
    `  - "api.anthropic.com:443:127.0.0.1:${env.fakePort}"`,
    `  - "upstream.test:443:127.0.0.1:${env.fakePort}"`,
    `  - "plain.test:80:127.0.0.1:${plain.address().port}"`,
    'destinations:',
    '  default: tunnel',
    '  intercept: [api.anthropic.com, plain.test]',
    '  tunnel: [upstream.test]',
    '  deny: [denied.test, "*.denied.test"]',
    '',
  ].join('\n');
  const dir = fs.mkdtempSync(`${env.workdir}/policy-`);
  const pol = await startProxy({ yaml: yaml.replace('AUDIT', `${dir}/audit.jsonl`), flags: false });
  try {
    // tunnel: the client sees the upstream's own certificate, the secret passes unscanned.
    const tok = githubToken();
    const m = marker('tunnel');
    const f = writeTemp('tunnel.json', messagesBody(`${m} ${tok}`));
    const r = await curl(['--proxy', pol.proxyUrl, '--cacert', env.upstreamCa, '--data-binary', `@${f}`, 'https://upstream.test/upload']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sha256, sha256(fs.readFileSync(f)));
    assert.equal(recordEntries(m).length, 1, 'the tunnelled request did not reach the upstream');
    assert.equal(recordEntries(m)[0].headers.host, 'upstream.test');
    const s = await tlsThroughProxy(pol, 'upstream.test', { ca: fs.readFileSync(env.upstreamCa) });
    assert.match(s.getPeerCertificate().issuer.CN, /promptgate test upstream CA/);
    s.destroy();
    const untrusted = await curl(['--proxy', pol.proxyUrl, '--cacert', pol.caFile, 'https://upstream.test/upload', '-d', 'x']);
    assert.equal(untrusted.code, 60, 'a tunnelled host must not present a promptgate certificate');

    // deny: CONNECT refused with 403 and the JSON error shape.
    for (const host of ['denied.test', 'a.denied.test']) {
      const sock = await rawPlain(pol);
      const d = await rawExchange(sock, [`CONNECT ${host}:443 HTTP/1.1\r\nHost: ${host}:443\r\n\r\n`], { timeoutMs: 3000 });
      assert.equal(d.status, 403, `${host}: ${d.text}`);
      const j = assertErrorShape(bodyOf(d.text), 'permission_error');
      assert.ok(j.error.message.length > 0);
    }

    // plain HTTP absolute-form: scanned too.
    const pm = marker('plain');
    const p1 = await curl(['-x', pol.proxyUrl, '-d', messagesBody(`${pm} clean`), '-w', '\n%{http_code}', 'http://plain.test/p1']);
    assert.match(p1.stdout, /plain ok\n200$/, `${p1.stdout} ${p1.stderr}`);
    assert.ok(plainSeen.some((x) => x.body.includes(pm)));
    const ptok = githubToken();
    const p2 = await curl(['-x', pol.proxyUrl, '-d', messagesBody(`${ptok}`), '-w', '\n%{http_code}', 'http://plain.test/p2']);
    assert.match(p2.stdout, /\n400$/, p2.stdout);
    assert.ok(!plainSeen.some((x) => x.body.includes(ptok)), 'plain HTTP secret reached the server');
  } finally {
    await pol.stop();
    plain.close();
  }
});

test('upstream unreachable: 502 with the JSON error shape', T, async () => {
  const port = await closedPort();
  const down = await startProxy({ flags: false, args: ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--upstream-ca', env.upstreamCa,
    '--connect-to', `api.anthropic.com:443:127.0.0.1:${port}`, '--audit-log', '-'] });
  try {
    const r = await curlApi(down, '/v1/messages', ['--data-binary', messagesBody('hello')]);
    assert.equal(r.status, 502, `${r.status} ${r.body} ${r.stderr}`);
    assert.match(r.headers, /^content-type:\s*application\/json/im);
    assertErrorShape(r.body);
  } finally {
    await down.stop();
  }
});

test('upstream too slow: 504 with the JSON error shape', T, async () => {
  const slow = await startProxy({ yaml: configYaml('timeouts: {upstream_response_ms: 800}\n') });
  try {
    const t0 = Date.now();
    const r = await curlApi(slow, '/hang?ms=6000');
    assert.equal(r.status, 504, `${r.status} ${r.body}`);
    assertErrorShape(r.body);
    assert.ok(Date.now() - t0 < 5000, 'the timeout did not apply');
  } finally {
    await slow.stop();
  }
});

// ---- bad input ---------------------------------------------------------------------------------

test('bad input: malformed request line on the proxy port', T, async () => {
  const s = await rawPlain(pg);
  const r = await rawExchange(s, ['THIS IS NOT HTTP\r\n\r\n'], { timeoutMs: 3000 });
  assert.ok(r.status === 400 || (r.closed && r.status === 0), `got ${JSON.stringify(r.text)} timedOut=${r.timedOut}`);
  assert.ok(!r.timedOut, 'the proxy neither answered nor closed');
  await assertHealthy(pg, 'a malformed request line');
});

test('bad input: a 100 KB header inside an intercepted connection', T, async () => {
  const m = marker('bighdr');
  const s = await tlsThroughProxy(pg, 'api.anthropic.com');
  const req = `POST /upload?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nX-Big: ${'a'.repeat(100 * 1024)}\r\nContent-Length: 2\r\n\r\n{}`;
  const r = await rawExchange(s, [req], { timeoutMs: 5000 });
  assert.ok([400, 431].includes(r.status) || (r.closed && r.status === 0), `got ${r.text.slice(0, 200)} timedOut=${r.timedOut}`);
  assert.ok(!r.timedOut, 'the proxy neither answered nor closed');
  await sleep(200);
  assert.equal(recordEntries(m).length, 0, 'forwarded');
  await assertHealthy(pg, 'an oversized header');
});

test('bad input: an invalid chunk size', T, async () => {
  const m = marker('badchunk');
  const s = await tlsThroughProxy(pg, 'api.anthropic.com');
  const req = `POST /upload?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nhello\r\n0\r\n\r\n`;
  const r = await rawExchange(s, [req], { timeoutMs: 5000 });
  assert.ok(r.status === 400 || (r.closed && r.status === 0), `got ${r.text.slice(0, 200)} timedOut=${r.timedOut}`);
  assert.ok(!r.timedOut);
  await sleep(200);
  assert.equal(recordEntries(m).length, 0, 'forwarded');
  await assertHealthy(pg, 'a bad chunk size');
});

test('bad input: TLS garbage after CONNECT', T, async () => {
  const { status, socket } = await openConnect(pg, 'api.anthropic.com:443');
  assert.equal(status, 200);
  const r = await rawExchange(socket, [crypto.randomBytes(4096), Buffer.from('GET / HTTP/1.1\r\n\r\n')], { timeoutMs: 5000 });
  assert.ok(r.closed, 'the proxy kept a garbage connection open');
  assert.ok(!r.text.includes('HTTP/1.1 200'));
  await assertHealthy(pg, 'TLS garbage');
});

test('bad input: plain HTTP where TLS is expected after CONNECT', T, async () => {
  const { status, socket } = await openConnect(pg, 'api.anthropic.com:443');
  assert.equal(status, 200);
  const m = marker('plainintls');
  const r = await rawExchange(socket, [`POST /upload?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 2\r\n\r\n{}`], { timeoutMs: 5000 });
  assert.ok(r.closed, 'the proxy kept the connection open');
  await sleep(200);
  assert.equal(recordEntries(m).length, 0);
  await assertHealthy(pg, 'plain HTTP inside a CONNECT');
});

test('bad input: a client that disconnects mid-body', T, async () => {
  const m = marker('midbody');
  const tok = githubToken();
  const s = await tlsThroughProxy(pg, 'api.anthropic.com');
  const head = `POST /v1/messages?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`;
  await rawExchange(s, [head, `{"messages":[{"role":"user","content":"${tok} `, 'x'.repeat(5000)], { destroyAfterWrite: true, gapMs: 20 });
  await sleep(500);
  assert.equal(recordEntries(m).length, 0, 'a partial body was forwarded');
  assert.ok(!recordHas(tok));
  await assertHealthy(pg, 'a mid-body disconnect');
});

// The body deadline leaves the socket open (proxy/read_deadline.h), so the client gets the
// documented 408 and the connection ends; nothing is forwarded. body_ms bounds the whole body,
// not each read.
test('bad input: a body that stalls, or drips a byte at a time, is cut off at the body timeout', T, async () => {
  const slow = await startProxy({ yaml: configYaml('timeouts: {body_ms: 800}\n') });
  try {
    const head = (m) => `POST /v1/messages?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n`;
    const cutOff = async (what, chunksFor, options) => {
      const m = marker(what);
      const s = await tlsThroughProxy(slow, 'api.anthropic.com');
      const t0 = Date.now();
      const r = await rawExchange(s, chunksFor(m), options);
      assert.ok(!r.timedOut, `${what}: the proxy neither answered nor closed`);
      assert.equal(r.status, 408, `${what}: got ${r.text.slice(0, 200)}`);
      assert.match(r.text, /timed out reading the request body/, what);
      assert.ok(Date.now() - t0 < 5000, `${what}: the body timeout did not apply to the whole body`);
      await sleep(200);
      assert.equal(recordEntries(m).length, 0, `${what}: the body was forwarded`);
    };
    // Half a body, then nothing.
    await cutOff('stall', (m) => [head(m) + `{"model":"x","messages":[{"role":"user","content":"${m} half of it`],
      { timeoutMs: 6000 });
    // A byte every 200 ms for 8 s: each read comes well within body_ms, the whole body never.
    await cutOff('drip', (m) => [head(m) + '{', ...Array(40).fill(' ')], { gapMs: 200, timeoutMs: 7000 });
    await assertHealthy(slow, 'stalled and dripping bodies');
  } finally {
    await slow.stop();
  }
});

test('bad input: Content-Length larger than the body, then half-close', T, async () => {
  const m = marker('short');
  const s = await tlsThroughProxy(pg, 'api.anthropic.com');
  const body = `{"model":"x","messages":[{"role":"user","content":"${m} truncat`;
  const req = `POST /v1/messages?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: ${body.length + 500}\r\n\r\n${body}`;
  const r = await rawExchange(s, [req], { end: true, timeoutMs: 5000 });
  assert.ok(r.status >= 400 || (r.closed && r.status === 0), `got ${r.text.slice(0, 200)}`);
  assert.ok(!r.timedOut, 'the proxy neither answered nor closed');
  await sleep(200);
  assert.equal(recordEntries(m).length, 0, 'a truncated body was forwarded');
  await assertHealthy(pg, 'a short body');
});

// Framing the upstream could read differently from the proxy (found by probing with raw bytes).
test('bad input: a trailer that would change how the body is read is refused, not forwarded', T, async () => {
  const m = marker('trailer');
  const tok = githubToken();
  const gz = zlib.gzipSync(messagesBody(`${m} ${tok}`));
  const s = await tlsThroughProxy(pg, 'api.anthropic.com');
  const head = `POST /v1/messages?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: chunked\r\n\r\n`;
  const trailer = '0\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\n\r\n';
  const r = await rawExchange(s, [Buffer.concat([Buffer.from(head + gz.length.toString(16) + '\r\n'), gz, Buffer.from('\r\n' + trailer)])], { timeoutMs: 5000 });
  assert.equal(r.status, 400, r.text.slice(0, 300));
  assert.match(r.text, /trailer/);
  await sleep(200);
  assert.equal(recordEntries(m).length, 0, 'forwarded');
  assert.ok(!recordHas(tok));
  await assertHealthy(pg, 'a trailer');
});

test('bad input: repeated Content-Encoding lines are decoded as one list and scanned', T, async () => {
  const m = marker('twoenc');
  const tok = githubToken();
  const gz = zlib.gzipSync(messagesBody(`${m} ${tok}`));
  const s = await tlsThroughProxy(pg, 'api.anthropic.com');
  const head = `POST /v1/messages?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: text/plain\r\nContent-Encoding: identity\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`;
  const r = await rawExchange(s, [Buffer.concat([Buffer.from(head), gz])], { timeoutMs: 5000 });
  assert.equal(r.status, 400, r.text.slice(0, 300));
  assert.match(r.text, /github/);
  await sleep(200);
  assert.equal(recordEntries(m).length, 0, 'forwarded');
  assert.ok(!recordHas(tok));
});

test('bad input: a Transfer-Encoding other than chunked is refused and the connection closed', T, async () => {
  for (const te of ['identity', 'gzip', 'chunked, identity', 'gzip, chunked']) {
    const m = marker('te');
    const inner = `GET /smuggled?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n`;
    const s = await tlsThroughProxy(pg, 'api.anthropic.com');
    const r = await rawExchange(s, [`POST /upload?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: ${te}\r\n\r\n${inner}`], { timeoutMs: 5000 });
    assert.equal(r.status, 400, `${te}: ${r.text.slice(0, 300)}`);
    assert.ok(!r.text.slice(12).includes('HTTP/1.1'), `${te}: a second answer came back`);
    await sleep(200);
    assert.equal(recordEntries(m).length, 0, `${te}: something was forwarded`);
  }
  await assertHealthy(pg, 'a bad Transfer-Encoding');
});

test('bad input: an endless trailer or chunk extension is cut off, not buffered', T, async () => {
  for (const [what, tail] of [['trailer', '0\r\n'], ['extension', '5;e=']]) {
    const m = marker(what);
    const s = await tlsThroughProxy(pg, 'api.anthropic.com');
    const head = `POST /upload?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n${tail}`;
    const filler = what === 'trailer' ? `X-T: ${'a'.repeat(1000)}\r\n`.repeat(64) : 'a'.repeat(64 * 1000);
    // 64 KB at a time, up to 4 MB: the proxy must give up long before (and long before body_ms).
    const r = await rawExchange(s, [head, ...Array(64).fill(filler)], { timeoutMs: 8000, gapMs: 5 });
    assert.ok(!r.timedOut, `${what}: still reading after 8 s`);
    assert.ok(r.status === 400 || (r.closed && r.status === 0), `${what}: got ${r.text.slice(0, 200)}`);
    assert.equal(recordEntries(m).length, 0, `${what}: forwarded`);
  }
  await assertHealthy(pg, 'an endless trailer');
});

test('the upstream gets the Host the destination policy judged, not the client\'s', T, async () => {
  const m = marker('host');
  const s = await tlsThroughProxy(pg, 'api.anthropic.com');
  const r = await rawExchange(s, [`POST /upload?m=${m} HTTP/1.1\r\nHost: elsewhere.example\r\nContent-Length: 2\r\n\r\n{}`], { timeoutMs: 5000 });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  const [entry] = recordEntries(m);
  assert.equal(entry.headers.host, 'api.anthropic.com');
});

test('every refused request or CONNECT leaves one audit line, the refusals found while reading the head too', T, async () => {
  // A client that does not trust the promptgate CA: the handshake fails, and the audit line says
  // which CA to trust (the CLI only says the certificate could not be verified).
  const r = await curl(['--proxy', pg.proxyUrl, '--cacert', env.upstreamCa, '-d', '{}', 'https://api.anthropic.com/v1/tls-untrusted']);
  assert.equal(r.code, 60, r.stderr);
  const tlsLine = await waitAudit(pg.audit, (l) => l.method === 'CONNECT' && /TLS handshake failed/.test(l.error || ''));
  assert.ok(tlsLine, `no audit line for the failed handshake: ${JSON.stringify(readAudit(pg.audit).slice(-3))}`);
  assert.equal(tlsLine.decision, 'error');
  assert.equal(tlsLine.host, 'api.anthropic.com');
  assert.match(tlsLine.error, /NODE_EXTRA_CA_CERTS/);

  // A CONNECT whose target cannot be read.
  const s1 = await rawPlain(pg);
  const bad = await rawExchange(s1, ['CONNECT no-port-here HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 3000 });
  assert.equal(bad.status, 400, bad.text);
  assert.ok(await waitAudit(pg.audit, (l) => l.method === 'CONNECT' && l.status === 400 && l.decision === 'error'),
    'no audit line for a malformed CONNECT target');

  // A plain-HTTP request that is not in absolute form.
  const s2 = await rawPlain(pg);
  const rel = await rawExchange(s2, ['GET /relative-audit HTTP/1.1\r\nHost: x\r\n\r\n'], { timeoutMs: 3000 });
  assert.equal(rel.status, 400, rel.text);
  assert.ok(await waitAudit(pg.audit, (l) => l.method === 'GET' && l.status === 400 && /forward proxy/.test(l.error || '')),
    'no audit line for a relative-form request');

  // A head over max_header_bytes: 431, and a line (no method: the head was never read whole).
  const s3 = await rawPlain(pg);
  const big = await rawExchange(s3, [`POST http://example.test/ HTTP/1.1\r\nHost: example.test\r\nX-Big: ${'b'.repeat(80 * 1024)}\r\n\r\n`], { timeoutMs: 3000 });
  assert.equal(big.status, 431, big.text.slice(0, 200));
  assert.ok(await waitAudit(pg.audit, (l) => l.status === 431 && l.decision === 'error'), 'no audit line for a 431');
  await assertHealthy(pg, 'refusals while reading the head');
});

test('a tunnel with no traffic either way for tunnel_idle_ms is closed and recorded', T, async () => {
  const yaml = [
    'listen: 127.0.0.1:0',
    `upstream_ca: ${JSON.stringify(env.upstreamCa)}`,
    'connect_to:',
    `  - "upstream.test:443:127.0.0.1:${env.fakePort}"`,
    'destinations: {default: tunnel}',
    'timeouts: {tunnel_idle_ms: 400}',
    'audit_log: AUDIT',
    '',
  ].join('\n');
  const dir = fs.mkdtempSync(`${env.workdir}/tunnel-idle-`);
  const auditFile = `${dir}/audit.jsonl`;
  const tun = await startProxy({ yaml: yaml.replace('AUDIT', JSON.stringify(auditFile)), flags: false });
  try {
    const s = await tlsThroughProxy(tun, 'upstream.test', { ca: fs.readFileSync(env.upstreamCa) });
    const closed = new Promise((resolve) => s.once('close', resolve));
    const t0 = Date.now();
    const outcome = await Promise.race([closed.then(() => 'closed'), sleep(5000).then(() => 'still open')]);
    assert.equal(outcome, 'closed', 'an idle tunnel stayed open');
    assert.ok(Date.now() - t0 >= 300, 'closed before the idle time');
    const line = await waitAudit(auditFile, (l) => l.decision === 'tunnel' && /tunnel_idle_ms/.test(l.error || ''));
    assert.ok(line, `no audit line for the idle tunnel: ${JSON.stringify(readAudit(auditFile))}`);
    // A tunnel that keeps talking is not cut: four requests 200 ms apart on one tunnel.
    const agent = new TunnelAgent(tun, { caPem: fs.readFileSync(env.upstreamCa) });
    for (let i = 0; i < 4; ++i) {
      const r = await request(agent, { host: 'upstream.test', path: `/idle-${i}` });
      assert.equal(r.status, 200, `request ${i}`);
      await sleep(200);
    }
    assert.equal(agent.connects, 1, 'the busy tunnel was closed and reopened');
    agent.destroy();
  } finally {
    await tun.stop();
  }
});

test('promptgate ca export prints the CA that $PROMPTGATE_HOME/ca.pem holds', T, async () => {
  const out = await new Promise((resolve) => execFile(env.bin, ['ca', 'export'], { env: { ...process.env, PROMPTGATE_HOME: pg.home } },
    (err, stdout, stderr) => resolve({ err, stdout, stderr })));
  assert.ifError(out.err);
  assert.equal(new crypto.X509Certificate(out.stdout).fingerprint256, new crypto.X509Certificate(pg.ca).fingerprint256);
});

test('the audit log never contains any secret used in this run; promptgate is still alive', T, async () => {
  assert.ok(pg.alive(), pg.stderr);
  const audit = fs.readFileSync(pg.audit, 'utf8');
  for (const l of readAudit(pg.audit)) assert.ok(!l.unparsable, `unparsable audit line: ${l.unparsable}`);
  assert.ok(!/ghp_[A-Za-z0-9]{36}/.test(audit), 'a GitHub token in the audit log');
  assert.ok(!/AKIA[A-Z2-7]{16}/.test(audit), 'an AWS key id in the audit log');
  assert.ok(!/ghp_[A-Za-z0-9]{36}/.test(pg.stderr + pg.stdout), 'a token in promptgate\'s output');
});

test('SIGTERM stops promptgate promptly and cleanly', T, async () => {
  const exited = new Promise((r) => pg.proc.once('exit', (code, sig) => r({ code, sig })));
  const t0 = Date.now();
  pg.proc.kill('SIGTERM');
  const { code, sig } = await exited;
  assert.ok(Date.now() - t0 < 5000, 'took more than 5 s');
  assert.ok(code === 0 || sig === 'SIGTERM', `exit ${code} signal ${sig}`);
});

// Expect: 100-continue: a body that could never be taken is refused before the client sends it,
// not after the upload (no 100 Continue first); one that fits gets its 100 and is forwarded.
test('bad input: 100-continue is refused up front (too large, unknown coding), answered 100 when it fits', T, async () => {
  const small = await startProxy({ yaml: configYaml('max_body_bytes: 100000\n') });
  try {
    const head = (m, length, extra = '') => `POST /v1/messages?m=${m} HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}Expect: 100-continue\r\n\r\n`;
    for (const [what, length, extra, status] of [['over max_body_bytes', 200000, '', 413],
      ['a coding promptgate cannot decode', 5000, 'Content-Encoding: compress\r\n', 415]]) {
      const m = marker(what.replace(/\W/g, '-'));
      const r = await rawExchange(await tlsThroughProxy(small, 'api.anthropic.com'), [head(m, length, extra)], { timeoutMs: 4000 });
      assert.equal(r.status, status, `${what}: ${r.text.slice(0, 400)}`);
      assert.doesNotMatch(r.text, /100 Continue/, `${what}: a 100 Continue was sent before the refusal`);
      assert.equal(recordEntries(m).length, 0, `${what}: forwarded`);
    }
    const m = marker('fits');
    const body = JSON.stringify({ model: 'claude-test-1', max_tokens: 8, messages: [{ role: 'user', content: m }] });
    const s = await tlsThroughProxy(small, 'api.anthropic.com');
    const got = await new Promise((resolve) => {
      let data = '';
      s.on('data', (d) => {
        data += d.toString('latin1');
        if (/^HTTP\/1\.1 100/.test(data) && !s.sentBody) { s.sentBody = true; s.write(body); }
        if (/\r\n\r\n[\s\S]*\}\s*$/.test(data.replace(/^HTTP\/1\.1 100[^\r]*\r\n\r\n/, ''))) resolve(data);
      });
      setTimeout(() => resolve(data), 4000);
      s.write(head(m, Buffer.byteLength(body)));
    });
    s.destroy();
    assert.match(got, /^HTTP\/1\.1 100 Continue/, got.slice(0, 100));
    assert.match(got, /HTTP\/1\.1 200/, got.slice(0, 300));
    assert.equal(recordEntries(m).length, 1, 'the body that fits was not forwarded');
  } finally {
    await small.stop();
  }
});
