// Integration tests of the read stage: what the model reads inside attachments is scanned.
// A synthetic GitHub token drawn into a PDF (plain and compressed), a DOCX and a terminal
// screenshot (PNG, read by OCR), sent as Anthropic document / image blocks, is blocked
// with the rule and where it was found, and never reaches the fake API; the clean twin of each
// is forwarded; a PDF that cannot be read is blocked unless documents.on_unreadable allows it;
// a screenshot resent on the next turn is not read again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  env, marker, githubToken, startProxy, stopAll, readAudit, waitAudit, curlApi, writeTemp,
  configYaml, recordHas,
} from './lib.mjs';

const T = { timeout: 120000 };
after(async () => { await stopAll(); });

const makeAttachment = path.join(path.dirname(env.bin), 'tests', 'make_attachment');

// The bytes of a synthetic attachment of `kind` holding `lines`.
function attachment(kind, lines) {
  const out = path.join(env.workdir, `att-${marker()}.${kind}`);
  execFileSync(makeAttachment, [kind, out, ...lines]);
  return fs.readFileSync(out);
}

const mediaType = { pdf: 'application/pdf', 'pdf-compressed': 'application/pdf', png: 'image/png',
  jpeg: 'image/jpeg',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' };

// A Messages API body whose first user message holds the attachment, as Claude Code sends a
// file its Read tool opened (images as `image`, the rest as `document`).
function bodyWith(kind, bytes, note, history = []) {
  const type = mediaType[kind].startsWith('image/') ? 'image' : 'document';
  const block = { type, source: { type: 'base64', media_type: mediaType[kind], data: bytes.toString('base64') } };
  return JSON.stringify({ model: 'claude-test-1', max_tokens: 32,
    messages: [...history, { role: 'user', content: [{ type: 'text', text: note }, block] }] });
}

async function send(pg, body) {
  return curlApi(pg, '/v1/messages', ['-H', 'content-type: application/json', '--data-binary', `@${writeTemp('att.json', body)}`]);
}

let pg;
test('a token inside a PDF, a DOCX or a screenshot is blocked; the clean twin passes', T, async () => {
  pg = await startProxy();
  // JPEG is left out here: its artefacts make OCR split about one random token in ten
  // (docs/attachments.md), and a test of random values must not be flaky; the reader tests
  // cover JPEG with fixed values.
  for (const kind of ['pdf', 'pdf-compressed', 'docx', 'png']) {
    // The screenshot's token is fixed: OCR misses about one random token in forty outright
    // (docs/attachments.md). This one (the shell tests' gh_token 505) is read exactly.
    const token = kind === 'png' ? ['ghp', '9GsJHLiUIYoYfM3QzqrdPbYfk6lvrL4LP2bb'].join('_') : githubToken();
    const dirty = await send(pg, bodyWith(kind, attachment(kind, ['deploy notes', `export GITHUB_TOKEN=${token}`]), marker('dirty')));
    assert.equal(dirty.status, 400, `${kind}: ${dirty.body}`);
    const err = JSON.parse(dirty.body).error;
    // OCR may misread a character of a random token; the GitHub rule (checksum tolerant of
    // OCR's confusions) or, failing that, the generic token rule still blocks it.
    assert.match(err.message, kind === 'png' ? /github|token/i : /github/i, `${kind}: ${err.message}`);
    const where = { pdf: /messages\[0\]\.content\[1\]\.source \(pdf page 1\)/, 'pdf-compressed': /\(pdf page 1\)/,
      docx: /\(docx/, png: /\(picture, ocr\)/, jpeg: /\(picture, ocr\)/ }[kind];
    assert.match(err.message, where, `${kind}: ${err.message}`);
    assert.ok(!err.message.includes(token), 'the block message holds the value');
    assert.ok(!recordHas(token.slice(4, 20)), `${kind}: the token reached the API`);
    const m = marker('clean');
    const clean = await send(pg, bodyWith(kind, attachment(kind, ['deploy notes', 'export GITHUB_TOKEN=<from the vault>']), m));
    assert.equal(clean.status, 200, `${kind} clean: ${clean.body}`);
    assert.ok(recordHas(m), `${kind}: the clean request did not reach the API`);
  }
  const audit = fs.readFileSync(pg.audit, 'utf8');
  assert.ok(!/ghp_[A-Za-z0-9]{36}/.test(audit), 'a token in the audit log');
  const line = readAudit(pg.audit).find((l) => l.attachments && l.attachments.read === 1 && l.decision === 'block');
  assert.ok(line, 'no audit line counting the attachment read');
});

test('a PDF that cannot be read is blocked, naming the setting; allowed when configured', T, async () => {
  const corrupt = Buffer.from('%PDF-1.7\n1 0 obj <</Type /Catalog>>\nthis is not a PDF body\n%%EOF\n');
  const r = await send(pg, bodyWith('pdf', corrupt, marker('corrupt')));
  assert.equal(r.status, 400, r.body);
  assert.match(JSON.parse(r.body).error.message, /documents\.on_unreadable/);
  const allow = await startProxy({ yaml: configYaml('documents: {on_unreadable: allow}\n') });
  const m = marker('allowed');
  const ok = await send(allow, bodyWith('pdf', corrupt, m));
  assert.equal(ok.status, 200, ok.body);
  assert.ok(recordHas(m));
});

test('a screenshot resent on the next turn is read once (incremental scanning)', T, async () => {
  const picture = attachment('png', ['$ ls', 'README.md  src  tests']);
  const first = bodyWith('png', picture, marker('turn1'));
  const r1 = await send(pg, first);
  assert.equal(r1.status, 200, r1.body);
  const read = await waitAudit(pg.audit, (l) => l.status === 200 && l.attachments && l.attachments.read === 1
    && l.attachments.listed === 1 && !l.findings?.length && l.body_bytes === first.length);
  assert.ok(read, 'the first turn did not read the screenshot');
  const history = JSON.parse(first).messages;
  history.push({ role: 'assistant', content: [{ type: 'text', text: 'I see a listing.' }] });
  const m = marker('turn2');
  const second = JSON.stringify({ model: 'claude-test-1', max_tokens: 32,
    messages: [...history, { role: 'user', content: m }] });
  const r2 = await send(pg, second);
  assert.equal(r2.status, 200, r2.body);
  const line = await waitAudit(pg.audit, (l) => l.status === 200 && l.scan_skipped_bytes > picture.length);
  assert.ok(line, `the second turn did not pass over the screenshot: ${JSON.stringify(readAudit(pg.audit).slice(-2))}`);
  assert.ok(!line.attachments, 'the screenshot was listed (and read) again');
});

// A file uploaded to a Files API (multipart/form-data, as `curl -F` and the vendors' SDKs send
// it): a DOCX or a PDF holding a token is blocked, named by its part and file name, and the
// upload never reaches the API; its clean twin is uploaded. A body that does not split as its
// Content-Type says is refused.
test('a DOCX or PDF uploaded to /v1/files with a token is blocked; the clean twin passes', T, async () => {
  if (!pg) pg = await startProxy();
  for (const [kind, name, type] of [['docx', 'notes.docx', mediaType.docx],
    ['pdf-compressed', 'runbook.pdf', 'application/octet-stream']]) {
    const upload = async (lines, m) => curlApi(pg, '/v1/files', ['-H', 'anthropic-beta: files-api-2025-04-14',
      '-F', `purpose=${m}`, '-F', `file=@${writeTemp(name, attachment(kind, lines))};filename=${name};type=${type}`]);
    const token = githubToken();
    const dm = marker('dirty-upload');
    const dirty = await upload(['deploy notes', `export GITHUB_TOKEN=${token}`], dm);
    assert.equal(dirty.status, 400, `${kind}: ${dirty.body}`);
    const err = JSON.parse(dirty.body).error;
    assert.match(err.message, /github/i, err.message);
    assert.ok(err.message.includes(`multipart part 2 "file" (${name})`), `${kind}: ${err.message}`);
    assert.ok(!recordHas(dm), `${kind}: the dirty upload reached the API`);
    const cm = marker('clean-upload');
    const clean = await upload(['deploy notes', 'export GITHUB_TOKEN=<from the vault>'], cm);
    assert.equal(clean.status, 200, `${kind} clean: ${clean.body}`);
    assert.ok(recordHas(cm), `${kind}: the clean upload did not reach the API`);
  }
  const m = marker('torn');
  const torn = await curlApi(pg, '/v1/files', ['-H', 'content-type: multipart/form-data; boundary=XYZ',
    '--data-binary', `--XYZ\r\ncontent-disposition: form-data; name="purpose"\r\n\r\n${m}\r\n`]);
  assert.equal(torn.status, 400, torn.body);
  assert.match(JSON.parse(torn.body).error.message, /multipart\/form-data.*closing boundary/);
  assert.ok(!recordHas(m), 'the torn upload reached the API');
});
