// Integration tests of justified overrides: off by default; when on, a block message offers a
// code bound to the client and the values; repeating the request with the code and a reason (a
// line in the prompt, or the X-Promptgate-Override header) forwards it and the audit log records
// the reason, never the code; a missing reason, a tampered code or another client's code keeps it
// blocked. (Several replicas: replicas_test.mjs.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  githubToken, startProxy, stopAll, readAudit, curlApi, writeTemp, configYaml, recordHas, recordEntries,
} from './lib.mjs';

const T = { timeout: 60000 };
after(async () => { await stopAll(); });

const overrideConfig = (extra = '') => configYaml(`overrides:
  enabled: true
  categories: [credential]
${extra}`);

async function ask(pg, text, curlArgs = []) {
  const body = JSON.stringify({ model: 'claude-test-1', max_tokens: 64, messages: [{ role: 'user', content: text }] });
  return curlApi(pg, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${writeTemp('req.json', body)}`, ...curlArgs]);
}
const codeIn = (body) => {
  const m = /promptgate-override: ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}) because <your reason>/.exec(JSON.parse(body).error.message);
  return m ? m[1] : null;
};

test('overrides are off by default: no code is offered', T, async () => {
  const pg = await startProxy();
  const r = await ask(pg, `ECHO: ${githubToken()}`);
  assert.equal(r.status, 400);
  assert.equal(codeIn(r.body), null);
});

test('override in the prompt: forwarded with a reason, recorded without the code', T, async () => {
  const pg = await startProxy({ yaml: overrideConfig('  grant_seconds: 0\n') });
  const token = githubToken();
  const blocked = await ask(pg, `ECHO: use ${token}`);
  assert.equal(blocked.status, 400, blocked.body);
  const code = codeIn(blocked.body);
  assert.ok(code, blocked.body);

  // No reason: still blocked, and the code is not used up.
  const noReason = await ask(pg, `ECHO: use ${token}\npromptgate-override: ${code} because`);
  assert.equal(noReason.status, 400);
  assert.ok(!recordHas(token));

  const reason = 'rotating this test token right after the demo';
  const ok = await ask(pg, `ECHO: use ${token}\npromptgate-override: ${code} because ${reason}`);
  assert.equal(ok.status, 200, ok.body);
  assert.ok(recordHas(token), 'the overridden request did not reach the API');
  const lines = readAudit(pg.audit);
  const redeemed = lines.find((l) => l.override && l.override.status === 'redeemed');
  assert.ok(redeemed, JSON.stringify(lines));
  assert.equal(redeemed.override.justification, reason);
  assert.equal(redeemed.status, 200);
  const audit = JSON.stringify(lines);
  assert.ok(!audit.includes(code), 'the audit log holds a code');
  assert.ok(!audit.includes(token.slice(4, 16)), 'the audit log holds the token');

  // Resent with the conversation: accepted again while valid (codes are not single use), logged
  // as granted.
  const again = await ask(pg, `ECHO: use ${token}\npromptgate-override: ${code} because ${reason}`);
  assert.equal(again.status, 200, again.body);
  assert.ok(readAudit(pg.audit).some((l) => l.override && l.override.status === 'granted'));
  // A tampered code is refused, and a fresh code offered.
  const bad = code.slice(0, -1) + (code.endsWith('Z') ? 'Y' : 'Z');
  const tampered = await ask(pg, `ECHO: use ${token}\npromptgate-override: ${bad} because ${reason}`);
  assert.equal(tampered.status, 400, tampered.body);
  const fresh = codeIn(tampered.body);
  assert.ok(fresh && fresh !== bad);
});

test('override by header, and a code is bound to the client that got it', T, async () => {
  const pg = await startProxy({ yaml: overrideConfig() });
  const token = githubToken();
  const blocked = await ask(pg, `ECHO: use ${token}`);
  const code = codeIn(blocked.body);
  assert.ok(code, blocked.body);
  // Another client address cannot use it.
  const other = await ask(pg, `ECHO: use ${token}`, ['--interface', '127.0.0.2', '-H', `X-Promptgate-Override: ${code} because I took it from a colleague`]);
  assert.equal(other.status, 400, other.body);
  const ok = await ask(pg, `ECHO: use ${token}`, ['-H', `X-Promptgate-Override: ${code} because the vendor support asked for it`]);
  assert.equal(ok.status, 200, ok.body);
  const seen = recordEntries(token);
  assert.equal(seen.length, 1);
  assert.ok(!Object.keys(seen[0].headers).some((h) => h.toLowerCase() === 'x-promptgate-override'), 'the override header was forwarded');
  // The grant (default one hour) covers the same value on the next turn, without a new code.
  const next = await ask(pg, `ECHO: still ${token}`);
  assert.equal(next.status, 200, next.body);
  assert.ok(readAudit(pg.audit).some((l) => l.override && l.override.status === 'granted'));
});
