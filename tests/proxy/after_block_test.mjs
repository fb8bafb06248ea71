// Integration tests of "after a block, the session goes on" (docs/blocked.md#after-a-block),
// with Node's https through the proxy's CONNECT to the fake API: a turn that resends a value
// already blocked in the same conversation is forwarded with the value redacted (the value never
// reaches the API); a new value still blocks; `after_block: block` blocks every turn; and a
// finding in a tool's output names the tool call and the line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  githubToken, startProxy, stopAll, readAudit, waitAudit, recordHas, configYaml, TunnelAgent, request,
} from './lib.mjs';

const T = { timeout: 60000 };
after(async () => { await stopAll(); });

const first = (token) => ({ role: 'user', content: [{ type: 'text', text: `ECHO: deploy with ${token} please`, cache_control: { type: 'ephemeral' } }] });

async function send(agent, messages) {
  const body = JSON.stringify({ model: 'claude-test-1', max_tokens: 64, messages });
  const r = await request(agent, {
    method: 'POST', path: '/v1/messages', body,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'anthropic-version': '2023-06-01' },
  });
  return { status: r.status, text: r.body.toString('utf8') };
}
const messageOf = (r) => JSON.parse(r.text).error.message;

test('after a block, the next turn goes on with the value redacted; a new value still blocks', T, async () => {
  const pg = await startProxy({ yaml: configYaml('block_help_url: https://wiki.example.com/promptgate\n') });
  const agent = new TunnelAgent(pg);
  const token = githubToken();
  const turn1 = await send(agent, [first(token)]);
  assert.equal(turn1.status, 400, turn1.text);
  const msg = messageOf(turn1);
  for (const part of ['/clear', 'Esc Esc', 'just send your next message', 'Help: https://wiki.example.com/promptgate'])
    assert.ok(msg.includes(part), msg);
  const blockLine = await waitAudit(pg.audit, (l) => l.decision === 'block');
  assert.ok(blockLine, 'no audit line for the block');

  // Turn 2: Claude Code resends the first message (the cache mark moved on) with a new question.
  const history = [{ ...first(token), content: [{ type: 'text', text: `ECHO: deploy with ${token} please` }] },
    { role: 'assistant', content: 'I cannot see that.' }];
  const turn2 = await send(agent, [...history, { role: 'user', content: 'ECHO: ok, what does HEAD~1 mean' }]);
  assert.equal(turn2.status, 200, turn2.text);
  assert.ok(!recordHas(token), 'the blocked value reached the API');
  assert.ok(recordHas('[REDACTED:github-pat-classic]'), 'the value was not replaced by its marker');
  const redacted = await waitAudit(pg.audit, (l) => l.after_block);
  assert.ok(redacted, JSON.stringify(readAudit(pg.audit)));
  assert.equal(redacted.decision, 'redact');
  assert.equal(redacted.after_block.values, 1);
  assert.equal(redacted.after_block.first_block, blockLine.request_id);

  // Turn 3 brings a new value: blocked, naming only it; turn 4 goes on with both redacted.
  const other = githubToken();
  const withNew = [...history, { role: 'user', content: 'ECHO: ok' }, { role: 'assistant', content: 'fine' },
    { role: 'user', content: `ECHO: and this one ${other}` }];
  const turn3 = await send(agent, withNew);
  assert.equal(turn3.status, 400, turn3.text);
  assert.ok(messageOf(turn3).includes('messages[4]'), turn3.text);
  assert.ok(!messageOf(turn3).includes('messages[0]'), turn3.text);
  const turn4 = await send(agent, [...withNew, { role: 'assistant', content: 'hm' }, { role: 'user', content: 'ECHO: go on' }]);
  assert.equal(turn4.status, 200, turn4.text);
  assert.ok(!recordHas(token) && !recordHas(other), 'a blocked value reached the API');

  // A new conversation (after /clear) with the same value: blocked again first.
  const fresh = await send(agent, [{ role: 'user', content: `ECHO: again ${token}` }]);
  assert.equal(fresh.status, 400, fresh.text);
  const audit = JSON.stringify(readAudit(pg.audit));
  assert.ok(!audit.includes(token.slice(4, 16)) && !audit.includes(other.slice(4, 16)), 'the audit log holds a value');
  agent.destroy();
});

test('after_block: block keeps every turn that resends the value blocked', T, async () => {
  const pg = await startProxy({ yaml: configYaml('after_block: block\n') });
  const agent = new TunnelAgent(pg);
  const token = githubToken();
  const turn1 = await send(agent, [first(token)]);
  assert.equal(turn1.status, 400, turn1.text);
  assert.ok(messageOf(turn1).includes('every turn that resends it is blocked'), turn1.text);
  const turn2 = await send(agent, [first(token), { role: 'assistant', content: 'x' }, { role: 'user', content: 'ECHO: next' }]);
  assert.equal(turn2.status, 400, turn2.text);
  assert.ok(!recordHas(token));
  assert.ok(!readAudit(pg.audit).some((l) => l.after_block));
  agent.destroy();
});

test('a key in a Read result: the block names Read, the file and the line', T, async () => {
  const pg = await startProxy();
  const agent = new TunnelAgent(pg);
  const token = githubToken();
  const messages = [
    { role: 'user', content: 'ECHO: check the deploy config' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01A', name: 'Read', input: { file_path: '/work/app/deploy.env' } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01A', content: `     1\tAPP=demo\n     2\tREGION=eu\n     3\tGH_TOKEN=${token}\n` }] },
  ];
  const r = await send(agent, messages);
  assert.equal(r.status, 400, r.text);
  assert.ok(messageOf(r).includes('in the output of `Read /work/app/deploy.env`, line 3'), r.text);
  const line = await waitAudit(pg.audit, (l) => l.decision === 'block');
  assert.equal(line.findings[0].origin, 'Read /work/app/deploy.env');
  assert.equal(line.findings[0].line, 3);
  assert.ok(!recordHas(token));
  agent.destroy();
});
