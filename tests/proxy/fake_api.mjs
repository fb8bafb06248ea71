#!/usr/bin/env node
// A fake Anthropic Messages API: the upstream of the proxy tests (the one fake the tests use).
// HTTPS with a real certificate (made by make_pki.sh), HTTP/1.1 keep-alive. Every request it
// receives is appended to --record FILE as one JSON line, so a test can prove what the upstream
// saw: that a blocked secret never arrived, that a redaction marker did, that a body arrived byte
// for byte.
//
// usage: node fake_api.mjs --port 0 --cert CERT --key KEY --record FILE [--delay-ms N] [--host H]
// prints "fake_api listening on 127.0.0.1:<port>" once listening.
//
// Endpoints:
//   POST /v1/messages[?...]          Messages API, streaming (SSE) or not; see reply() below
//   POST /v1/messages/count_tokens   {"input_tokens": 10}
//   POST /upload                     {"bytes": N, "sha256": "..."} of the raw body
//   GET  /sse?n=5&delay_ms=200       n SSE events spaced by delay_ms
//   GET  /hang?ms=N                  answers after N ms (upstream timeout tests)
//   GET  /status?code=N              answers with status N
//   GET  /api/claude_code/policy_limits, /api/claude_code/settings: empty, in the CLI's format
//   anything else                    200 {}
// Request headers: x-fake-delay-ms (delay between SSE events of /v1/messages); x-fake-fault:
// reset (the connection is reset while the body arrives), reset-mid-stream (an SSE answer cut
// off after its first event), stall (answers after x-fake-stall-ms, default 5000), for the soak.
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import zlib from 'node:zlib';

function parseArgs(argv) {
  const a = { port: 0, host: '127.0.0.1', cert: '', key: '', record: '', delayMs: 0 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--port') { a.port = Number(v); i++; }
    else if (k === '--host') { a.host = v; i++; }
    else if (k === '--cert') { a.cert = v; i++; }
    else if (k === '--key') { a.key = v; i++; }
    else if (k === '--record') { a.record = v; i++; }
    else if (k === '--delay-ms') { a.delayMs = Number(v); i++; }
    else { console.error(`fake_api: unknown argument ${k}`); process.exit(2); }
  }
  if (!a.cert || !a.key || !a.record) {
    console.error('usage: fake_api.mjs --port N --cert CERT --key KEY --record FILE [--delay-ms N]');
    process.exit(2);
  }
  return a;
}

const args = parseArgs(process.argv);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let counter = 0;
const newId = (prefix) => `${prefix}_fake${String(++counter).padStart(6, '0')}${crypto.randomBytes(6).toString('hex')}`;

function decodeBody(buf, encoding) {
  try {
    switch ((encoding || '').toLowerCase()) {
      case 'gzip': case 'x-gzip': return zlib.gunzipSync(buf).toString('utf8');
      case 'deflate': return zlib.inflateSync(buf).toString('utf8');
      case 'br': return zlib.brotliDecompressSync(buf).toString('utf8');
      default: return undefined;
    }
  } catch {
    return undefined;
  }
}

function record(req, body) {
  const entry = {
    method: req.method,
    path: req.url,
    headers: req.headers,
    body: body.toString('utf8'),
    body_bytes: body.length,
    body_sha256: crypto.createHash('sha256').update(body).digest('hex'),
    time_ms: Date.now(),
    // Which TCP connection carried it (the proxy's source port): shows upstream reuse.
    conn_port: req.socket.remotePort,
  };
  const decoded = decodeBody(body, req.headers['content-encoding']);
  if (decoded !== undefined) entry.body_decoded = decoded;
  // Synchronous, before the answer: once a client has the response, the record has the request.
  fs.appendFileSync(args.record, JSON.stringify(entry) + '\n');
}

function sendJson(res, status, obj, extra = {}) {
  const data = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length, ...extra });
  res.end(data);
}

// The text of a message's content (a string or an array of blocks).
function contentText(content) {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((b) => (b && b.type === 'text' && typeof b.text === 'string' ? b.text : '')).join('\n');
}
const hasToolResult = (content) => Array.isArray(content) && content.some((b) => b && b.type === 'tool_result');

// What the fake model answers: a list of content blocks and a stop reason.
function reply(req) {
  const messages = Array.isArray(req.messages) ? req.messages : [];
  let last = null;
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i] && messages[i].role === 'user') { last = messages[i]; break; }
  const lastText = last ? contentText(last.content) : '';
  const toolNames = Array.isArray(req.tools) ? req.tools.map((t) => t && t.name) : [];
  if (last && hasToolResult(last.content)) {
    return { content: [{ type: 'text', text: 'I read the file.' }], stop_reason: 'end_turn' };
  }
  const anyToolResult = messages.some((m) => m && hasToolResult(m.content));
  const read = /please read the file (\S+)/.exec(lastText);
  if (read && !anyToolResult && toolNames.includes('Read')) {
    const path = read[1].replace(/[.,;:!?"')\]]+$/, '');
    return {
      content: [{ type: 'tool_use', id: newId('toolu'), name: 'Read', input: { file_path: path } }],
      stop_reason: 'tool_use',
    };
  }
  // "please write the file PATH with: CONTENT" -> a Write tool call (tokenize round trips).
  const write = /please write the file (\S+) with: ([\s\S]*)$/.exec(lastText);
  if (write && !anyToolResult && toolNames.includes('Write')) {
    return {
      content: [{ type: 'tool_use', id: newId('toolu'), name: 'Write', input: { file_path: write[1], content: write[2].trim() } }],
      stop_reason: 'tool_use',
    };
  }
  // "TOOLECHO: text" -> a tool call whose input carries the text (for API clients).
  const toolEcho = lastText.indexOf('TOOLECHO:');
  if (toolEcho >= 0) {
    return {
      content: [{ type: 'tool_use', id: newId('toolu'), name: 'echo', input: { text: lastText.slice(toolEcho + 9).trim() } }],
      stop_reason: 'tool_use',
    };
  }
  const echo = lastText.indexOf('ECHO:');
  if (echo >= 0) {
    return { content: [{ type: 'text', text: 'fake model says: ' + lastText.slice(echo + 5).trim() }], stop_reason: 'end_turn' };
  }
  return { content: [{ type: 'text', text: `fake model says: ${messages.length} message(s) received` }], stop_reason: 'end_turn' };
}

function usage(outputTokens) {
  return { input_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: outputTokens };
}

async function messages(req, res, body) {
  let parsed;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'fake_api: body is not JSON' } });
  }
  const { content, stop_reason } = reply(parsed);
  const model = typeof parsed.model === 'string' ? parsed.model : 'claude-fake';
  const id = newId('msg');
  const headers = { 'request-id': newId('req'), 'anthropic-organization-id': '00000000-0000-0000-0000-000000000000' };
  if (!parsed.stream) {
    const message = { id, type: 'message', role: 'assistant', model, content, stop_reason, stop_sequence: null, usage: usage(12) };
    if (req.headers['x-fake-chunked']) {
      // As a CDN may send it: chunked, in two pieces.
      const data = JSON.stringify(message);
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.write(data.slice(0, 20));
      return res.end(data.slice(20));
    }
    return sendJson(res, 200, message, headers);
  }
  const headerDelay = Number(req.headers['x-fake-delay-ms']);
  const delay = Number.isFinite(headerDelay) && headerDelay >= 0 ? headerDelay : args.delayMs;
  // x-fake-chunk: N splits every text and tool-input delta into N-character pieces.
  const chunk = Math.max(0, Math.floor(Number(req.headers['x-fake-chunk']) || 0));
  const pieces = (text, fallback) => {
    if (!chunk) return fallback;
    const out = [];
    for (let i = 0; i < text.length; i += chunk) out.push(text.slice(i, i + chunk));
    return out.length ? out : [''];
  };
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  const events = [];
  const ev = (type, data) => events.push([type, { type, ...data }]);
  ev('message_start', {
    message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: usage(1) },
  });
  content.forEach((block, index) => {
    if (block.type === 'text') {
      ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
      if (index === 0) ev('ping', {});
      // A few deltas, as the real API splits text.
      const words = block.text.split(/(?<= )/);
      const parts = [];
      for (let i = 0; i < words.length; i += 3) parts.push(words.slice(i, i + 3).join(''));
      for (const text of pieces(block.text, parts)) ev('content_block_delta', { index, delta: { type: 'text_delta', text } });
    } else if (block.type === 'tool_use') {
      ev('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      if (index === 0) ev('ping', {});
      const json = JSON.stringify(block.input);
      const cut = Math.max(1, Math.floor(json.length / 2));
      ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (const partial_json of pieces(json, [json.slice(0, cut), json.slice(cut)]))
        ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } });
    }
    ev('content_block_stop', { index });
  });
  ev('message_delta', { delta: { stop_reason, stop_sequence: null }, usage: { output_tokens: 12 } });
  ev('message_stop', {});
  for (let i = 0; i < events.length; i++) {
    if (i > 0 && delay > 0) await sleep(delay);
    if (res.destroyed) return;
    const [type, data] = events[i];
    res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
  }
  res.end();
}

async function sse(res, url) {
  const n = Math.min(1000, Math.max(0, Number(url.searchParams.get('n') ?? 5)));
  const delay = Math.max(0, Number(url.searchParams.get('delay_ms') ?? 200));
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (let i = 0; i < n; i++) {
    if (i > 0) await sleep(delay);
    if (res.destroyed) return;
    res.write(`event: tick\ndata: ${JSON.stringify({ i, sent_ms: Date.now() })}\n\n`);
  }
  res.end();
}

async function handle(req, res, body) {
  record(req, body);
  // Faults for bench/soak.sh: an answer cut off mid-stream, or one that stalls.
  const fault = req.headers['x-fake-fault'];
  if (fault === 'reset-mid-stream') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message_start\ndata: {"type":"message_start"}\n\n');
    setTimeout(() => res.socket?.destroy(), 50);
    return;
  }
  if (fault === 'stall') {
    await sleep(Math.max(0, Number(req.headers['x-fake-stall-ms'] ?? 5000)));
    if (!res.destroyed) sendJson(res, 200, { stalled: true });
    return;
  }
  const url = new URL(req.url, 'https://fake.invalid');
  const p = url.pathname;
  if (req.method === 'POST' && p === '/v1/messages') return messages(req, res, body);
  if (p === '/v1/messages/count_tokens') return sendJson(res, 200, { input_tokens: 10 });
  if (req.method === 'POST' && p === '/upload') {
    return sendJson(res, 200, { bytes: body.length, sha256: crypto.createHash('sha256').update(body).digest('hex') });
  }
  if (p === '/sse') return sse(res, url);
  if (p === '/hang') {
    await sleep(Math.max(0, Number(url.searchParams.get('ms') ?? 10000)));
    if (!res.destroyed) sendJson(res, 200, { hung: true });
    return;
  }
  if (p === '/status') {
    const code = Number(url.searchParams.get('code') ?? 500);
    return sendJson(res, code, { type: 'error', error: { type: 'api_error', message: `fake status ${code}` } });
  }
  if (p === '/v1/models') return sendJson(res, 200, { data: [], has_more: false, first_id: null, last_id: null });
  // Claude Code's side endpoints. The CLI validates these two and retries (seconds) on {}.
  if (p === '/api/claude_code/policy_limits') return sendJson(res, 200, { restrictions: {} });
  if (p === '/api/claude_code/settings') {
    return sendJson(res, 200, { uuid: '00000000-0000-4000-8000-000000000000', checksum: 'fake', settings: {} });
  }
  // oauth, event logging, ...
  return sendJson(res, 200, {});
}

const server = https.createServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
  keepAlive: true,
  keepAliveTimeout: 30000,
  requestTimeout: 0,
}, (req, res) => {
  // A fault for bench/soak.sh: the connection reset while the request body is still arriving.
  if (req.headers['x-fake-fault'] === 'reset') { req.socket.destroy(); return; }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    handle(req, res, Buffer.concat(chunks)).catch((e) => {
      console.error('fake_api:', e);
      if (!res.headersSent) sendJson(res, 500, { type: 'error', error: { type: 'api_error', message: String(e) } });
      else res.destroy();
    });
  });
  req.on('error', () => {});
});
server.keepAliveTimeout = 30000;
server.headersTimeout = 35000;
server.on('tlsClientError', () => {});
server.listen(args.port, args.host, () => {
  const { port } = server.address();
  process.stdout.write(`fake_api listening on ${args.host}:${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
