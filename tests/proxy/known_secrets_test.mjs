// Integration test of the organisation's known secrets: digests made with `promptgate secrets
// digest` under the gateway's own key, added to the config and reloaded, then a request holding
// one of the values (a short password with no recognisable format) is blocked, naming the
// label and never the value; a digest file made under another key is refused at reload and the
// old config keeps serving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { env, startProxy, stopAll, curlApi, writeTemp, configYaml, recordEntries } from './lib.mjs';

const T = { timeout: 60000 };
after(async () => { await stopAll(); });

function reload(pg) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: pg.adminPort, path: '/-/reload', method: 'POST', agent: false }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
    });
    req.on('error', reject);
    req.end();
  });
}
async function ask(pg, text) {
  const body = JSON.stringify({ model: 'claude-test-1', max_tokens: 64, messages: [{ role: 'user', content: text }] });
  return curlApi(pg, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${writeTemp('req.json', body)}`]);
}

test('known secrets: digests under the gateway key block a formatless password; a foreign digest file is refused', T, async () => {
  const password = `Kx7-${Math.random().toString(36).slice(2, 10)}!q`;  // synthetic, no known format
  const pg = await startProxy({ yaml: configYaml() });
  // Before: the password is not a finding.
  assert.equal((await ask(pg, `ECHO: the db password is ${password} ok`)).status, 200);

  const envFile = writeTemp('app.env', `# app settings\nexport DB_PASSWORD="${password}"\nAPP_NAME=demo\n`);
  const digests = execFileSync(env.bin, ['secrets', 'digest', envFile], {
    env: { ...process.env, PROMPTGATE_HOME: pg.home }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.ok(!digests.includes(password), 'the digest file holds the value');
  const digestFile = path.join(pg.dir, 'known-secrets.txt');
  fs.writeFileSync(digestFile, digests);
  const configFile = path.join(pg.dir, 'promptgate.yaml');
  fs.appendFileSync(configFile, `known_secrets: ${digestFile}\n`);
  const ok = await reload(pg);
  assert.equal(ok.status, 200, ok.body);

  const blocked = await ask(pg, `ECHO: the db password is ${password} ok`);
  assert.equal(blocked.status, 400, blocked.body);
  assert.match(blocked.body, /known-secret:DB_PASSWORD/);
  assert.ok(!blocked.body.includes(password));
  assert.ok(!fs.readFileSync(pg.audit, 'utf8').includes(password), 'the audit log holds the value');

  // A digest file made under another key: the reload is refused, the old set keeps blocking.
  const otherHome = fs.mkdtempSync(path.join(env.workdir, 'otherhome-'));
  execFileSync(env.bin, ['scan', '-'], { env: { ...process.env, PROMPTGATE_HOME: otherHome }, input: 'x', stdio: ['pipe', 'ignore', 'ignore'] });
  fs.writeFileSync(digestFile, execFileSync(env.bin, ['secrets', 'digest', envFile], {
    env: { ...process.env, PROMPTGATE_HOME: otherHome }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  }));
  const refused = await reload(pg);
  assert.notEqual(refused.status, 200, refused.body);
  assert.match(refused.body, /key/);
  assert.equal((await ask(pg, `ECHO: again ${password}`)).status, 400);
  // Only the request before the digests were loaded reached the API.
  assert.equal(recordEntries(password).length, 1);
});
