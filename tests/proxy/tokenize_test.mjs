// Integration tests of action `tokenize` (reversible redaction): the fake API only ever sees a
// stand-in of the same shape; the answer, streamed (SSE text and tool-input deltas, split into
// pieces of every small size) or not, comes back with the original restored; a stand-in is
// stable within a conversation and distinct per value; another client's conversation never
// gets a value restored; the in-memory map honours its bound.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  githubToken, startProxy, stopAll, waitAudit, curlApi, writeTemp, configYaml, recordText,
  TunnelAgent, request,
} from './lib.mjs';

const T = { timeout: 120000 };
after(async () => { await stopAll(); });

const tokenizeConfig = (extra = '') => configYaml(`actions:
  - {category: credential, action: tokenize}
${extra}`);

async function ask(pg, text, { stream = false, chunk = 0, curlArgs = [] } = {}) {
  const body = JSON.stringify({ model: 'claude-test-1', max_tokens: 64, stream, messages: [{ role: 'user', content: text }] });
  const headers = ['-H', 'content-type: application/json', '--data-binary', `@${writeTemp('req.json', body)}`];
  if (chunk) headers.push('-H', `x-fake-chunk: ${chunk}`);
  return curlApi(pg, '/v1/messages', [...headers, ...curlArgs]);
}

// SSE text -> {text, toolInput} from the deltas, in order.
function parseSse(raw) {
  let text = '', json = '';
  for (const block of raw.split(/\r?\n\r?\n/)) {
    const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
    if (!data) continue;
    const ev = JSON.parse(data);
    if (ev.type !== 'content_block_delta') continue;
    if (ev.delta.type === 'text_delta') text += ev.delta.text;
    if (ev.delta.type === 'input_json_delta') json += ev.delta.partial_json;
  }
  return { text, toolInput: json ? JSON.parse(json) : null };
}

// The stand-in the fake API saw for a token: ghp_ + 36 characters, not the token.
function standinIn(record, token) {
  const found = [...record.matchAll(/ghp_[A-Za-z0-9]{36}/g)].map((m) => m[0]).filter((s) => s !== token);
  return [...new Set(found)];
}

function scrape(pg) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: pg.adminPort, path: '/metrics', agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
}
const metricValue = (text, name) => {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

test('tokenize: the API sees a same-shape stand-in, the client gets its value back (JSON answer)', T, async () => {
  const pg = await startProxy({ yaml: tokenizeConfig() });
  const token = githubToken();
  const before = recordText().length;
  const r = await ask(pg, `ECHO: my token is ${token} ok`);
  assert.equal(r.status, 200, r.body);
  assert.equal(JSON.parse(r.body).content[0].text, `fake model says: my token is ${token} ok`);
  const seen = recordText().slice(before);
  assert.ok(!seen.includes(token) && !seen.includes(token.slice(4, 16)), 'the token reached the API');
  const standins = standinIn(seen, token);
  assert.equal(standins.length, 1, `one stand-in expected in the record: ${standins}`);
  const line = await waitAudit(pg.audit, (l) => l.decision === 'redact' && l.tokenized === 1);
  assert.ok(line, JSON.stringify(pg.auditLines()));
  assert.equal(line.restored, 1);
  assert.equal(line.findings[0].action, 'tokenize');
  const audit = JSON.stringify(pg.auditLines());
  assert.ok(!audit.includes(token) && !audit.includes(standins[0]), 'the audit log holds a value or a stand-in');

  // Stable within the conversation; another value gets another stand-in.
  const before2 = recordText().length;
  await ask(pg, `ECHO: again ${token}`);
  assert.deepEqual(standinIn(recordText().slice(before2), token), standins);
  const other = githubToken();
  const before3 = recordText().length;
  const r3 = await ask(pg, `ECHO: other ${other}`);
  assert.match(JSON.parse(r3.body).content[0].text, new RegExp(other));
  const s3 = standinIn(recordText().slice(before3), other);
  assert.equal(s3.length, 1);
  assert.notEqual(s3[0], standins[0]);

  const metrics = await scrape(pg);
  assert.equal(metricValue(metrics, 'promptgate_tokenized_values_total'), 3);
  assert.equal(metricValue(metrics, 'promptgate_restored_values_total'), 3);
  assert.ok(!metrics.includes(token) && !metrics.includes(standins[0]));
  for (const text of [pg.stdout, pg.stderr]) assert.ok(!text.includes(token) && !text.includes(standins[0]));
});

test('tokenize: a chunked JSON answer is restored and the keep-alive connection stays usable', T, async () => {
  const pg = await startProxy({ yaml: tokenizeConfig() });
  const agent = new TunnelAgent(pg);
  try {
    const token = githubToken();
    for (let i = 0; i < 3; i++) {
      const body = JSON.stringify({ model: 'claude-test-1', max_tokens: 64, messages: [{ role: 'user', content: `ECHO: ${i} ${token}` }] });
      const r = await request(agent, { method: 'POST', path: '/v1/messages', body, headers: { 'content-type': 'application/json', 'x-fake-chunked': '1' } });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(JSON.parse(r.body).content[0].text, `fake model says: ${i} ${token}`);
    }
    assert.equal(agent.connects, 1, 'the connection was not reused');
  } finally {
    agent.destroy();
  }
});

test('tokenize: stand-ins restored in SSE text and tool-input deltas split into pieces of 1..12 and 40 bytes', T, async () => {
  const pg = await startProxy({ yaml: tokenizeConfig() });
  const token = githubToken();
  for (const chunk of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 40]) {
    const t = await ask(pg, `ECHO: key=${token};`, { stream: true, chunk });
    assert.equal(t.status, 200, t.body);
    assert.equal(parseSse(t.body).text, `fake model says: key=${token};`, `text, pieces of ${chunk}`);
    const u = await ask(pg, `TOOLECHO: deploy with "${token}" now`, { stream: true, chunk });
    assert.deepEqual(parseSse(u.body).toolInput, { text: `deploy with "${token}" now` }, `tool input, pieces of ${chunk}`);
  }
  assert.ok(!recordText().includes(token), 'the token reached the API');
});

test('tokenize: another client never gets this conversation\'s values restored', T, async () => {
  const pg = await startProxy({ yaml: tokenizeConfig() });
  const token = githubToken();
  const before = recordText().length;
  const a = await ask(pg, `ECHO: ${token}`);
  assert.equal(a.status, 200, `${a.code} ${a.stderr} ${a.body}`);
  const [standin] = standinIn(recordText().slice(before), token);
  assert.ok(standin, `no stand-in in what the API received (the raw token ${recordText().slice(before).includes(token) ? 'was' : 'was not'} there)`);
  // Client B (another address) sends the stand-in itself: it gets the stand-in back, not the value.
  const b = await ask(pg, `ECHO: ${standin}`, { curlArgs: ['--interface', '127.0.0.2'] });
  assert.equal(b.status, 200, b.body);
  const text = JSON.parse(b.body).content[0].text;
  assert.ok(!text.includes(token), 'client B got client A\'s value');
  // (The stand-in is itself a well-formed token, so B's request tokenizes it in B's own
  // conversation, and B gets back exactly what it sent.)
  assert.equal(text, `fake model says: ${standin}`);
});

test('tokenize: the map stays within max_entries_per_conversation', T, async () => {
  const pg = await startProxy({ yaml: tokenizeConfig('tokenize:\n  max_entries_per_conversation: 2\n') });
  for (let i = 0; i < 4; i++) {
    const token = githubToken();
    const r = await ask(pg, `ECHO: ${token}`);
    assert.equal(JSON.parse(r.body).content[0].text, `fake model says: ${token}`);
  }
  const metrics = await scrape(pg);
  assert.equal(metricValue(metrics, 'promptgate_tokenize_entries'), 2);
  assert.equal(metricValue(metrics, 'promptgate_tokenize_conversations'), 1);
});
