// promptgate behind a parent proxy (upstream_proxy): a second promptgate that only tunnels plays
// the corporate parent. The request is scanned by the child, tunnelled by the parent, and
// reaches the fake API; a blocked request never reaches the parent at all.
import test from 'node:test';
import assert from 'node:assert/strict';
import { env, startProxy, stopAll, curlApi, messagesBody, githubToken, recordHas, writeTemp } from './lib.mjs';

const T = { timeout: 30000 };
test.after(stopAll);

test('upstream_proxy: intercepted requests go out through the parent proxy', T, async () => {
  const parent = await startProxy({
    // A parent that reads nothing: not even the built-in catalogue of model hosts.
    yaml: 'destinations:\n  default: tunnel\n  intercept_builtin: false\n  intercept: []\n',
    args: ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0',
      '--connect-to', `api.anthropic.com:443:127.0.0.1:${env.fakePort}`, '--audit-log', '-'],
    flags: false,
  });
  // The child has no --connect-to of its own (it would name the CONNECT target it asks the
  // parent for): the parent alone maps api.anthropic.com to the fake API.
  const child = await startProxy({
    yaml: `upstream_proxy: http://127.0.0.1:${parent.port}\n`,
    args: ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--upstream-ca', env.upstreamCa,
      '--audit-log', '-'],
    flags: false,
  });
  const token = githubToken();
  const dirty = writeTemp('parent-dirty.json', messagesBody(`token ${token}`));
  const b = await curlApi(child, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${dirty}`]);
  assert.equal(b.status, 400);
  assert.ok(!recordHas(token), 'the fake API saw the token');
  assert.match(child.stdout, /"decision":"block"/);
  assert.doesNotMatch(parent.stdout, /"method":"CONNECT"/, 'a blocked request opened a tunnel through the parent');

  const clean = writeTemp('parent-clean.json', messagesBody('hello through two proxies'));
  const r = await curlApi(child, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${clean}`]);
  assert.equal(r.status, 200, r.stderr + r.body);
  assert.match(r.body, /fake model says/);
  // The child keeps its upstream connection (the parent's tunnel) for the next client; the
  // parent logs the tunnel when it closes, here when the child shuts down.
  await child.stop();
  for (let i = 0; i < 40 && !/"decision":"tunnel"/.test(parent.stdout); i++) await new Promise((res) => setTimeout(res, 50));
  assert.match(parent.stdout, /"method":"CONNECT","host":"api.anthropic.com"/);
  assert.match(parent.stdout, /"decision":"tunnel"/);
  assert.ok(!parent.stdout.includes(token));
});

test('upstream_proxy: a parent that refuses the CONNECT gives a 502 with the JSON error shape', T, async () => {
  const parent = await startProxy({
    yaml: 'destinations:\n  default: deny\n',
    args: ['--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--audit-log', '-'],
    flags: false,
  });
  const child = await startProxy({ yaml: `upstream_proxy: http://127.0.0.1:${parent.port}\n` });
  const clean = writeTemp('parent-refused.json', messagesBody('hello'));
  const r = await curlApi(child, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${clean}`]);
  assert.equal(r.status, 502);
  const body = JSON.parse(r.body);
  assert.equal(body.type, 'error');
  assert.match(body.error.message, /parent proxy answered 403/);
});
