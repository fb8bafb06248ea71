// `promptgate demo` against a running proxy with the embedded default config: every value it
// prints is blocked when its own curl line is run as printed, and none reaches the fake API.
// Run through run_tests.sh.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { env, startProxy, stopAll, recordHas, waitAudit } from './lib.mjs';

const T = { timeout: 60000 };
after(stopAll);

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', ...opts }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('demo: each printed value is blocked by the running proxy through its own curl line', T, async () => {
  const p = await startProxy();  // the embedded default config, api.anthropic.com -> fake API
  try {
    const demo = await run(env.bin, ['demo', '--format', 'json', '--proxy', p.proxyUrl, '--ca', p.caFile],
      { env: { ...process.env, PROMPTGATE_HOME: p.home } });
    assert.equal(demo.code, 0, demo.stderr);
    const values = demo.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual([...new Set(values.map((v) => v.category))].sort(), ['credential', 'pci', 'phi', 'pii']);
    for (const v of values) {
      const r = await run('bash', ['-c', `${v.curl} -w '\\n%{http_code}'`]);
      assert.equal(r.code, 0, `${v.rule}: ${r.stderr}`);
      assert.match(r.stdout, /\n400$/, `${v.rule}: ${r.stdout}`);
      const body = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('\n')));
      assert.equal(body.type, 'error');
      assert.match(body.error.message, new RegExp(`promptgate blocked this request: .*'${v.rule}'`));
      assert.ok(!body.error.message.includes(v.value), 'the block message carries the value');
      assert.ok(!recordHas(v.value), `${v.rule}: the value reached the fake API`);
      const line = await waitAudit(p.audit, (l) => l.decision === 'block' && l.findings?.some((f) => f.rule === v.rule));
      assert.ok(line, `no block audit line for ${v.rule}`);
    }
  } finally {
    await p.stop();
  }
});
