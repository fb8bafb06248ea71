// Helpers of the proxy integration tests: synthetic secrets, starting promptgate, the fake API's
// record, the audit log, curl, CONNECT tunnels and raw HTTP exchanges.
import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

export const env = {
  bin: mustEnv('PROMPTGATE_BIN'),
  fakePort: Number(mustEnv('FAKE_API_PORT')),
  upstreamCa: mustEnv('UPSTREAM_CA'),
  recordFile: mustEnv('RECORD_FILE'),
  workdir: mustEnv('WORKDIR'),
};

function mustEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/proxy/run_tests.sh PROMPTGATE_BIN`);
  return v;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');
export const marker = (what = 'm') => `${what}${crypto.randomBytes(8).toString('hex')}`;

// ---- synthetic secrets (random, valid format; never real) -------------------------------------

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(str) {
  let c = 0xffffffff;
  for (const b of Buffer.from(str)) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function randomFrom(alphabet, n) {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[crypto.randomInt(alphabet.length)];
  return s;
}
// Random values now and then spell a placeholder marker ("todo", "xxxx", "fake", ...; about 1 in
// 9,000 GitHub tokens), which the rules rightly ignore (looks_like_placeholder in
// detectors/validators.cc): draw again, so a test's secret is always a finding.
const PLACEHOLDER_MARKER = /example|xxxx|changeme|your_|your-|yourtoken|yourkey|yourpass|placeholder|dummy|redact|insert_|replace_me|replaceme|fixme|todo|sample|fake|not_a_real|notreal/i;
function sequentialRun(s, n = 8) {
  let run = 1;
  for (let i = 1; i < s.length; i++) {
    run = s.charCodeAt(i) === s.charCodeAt(i - 1) + 1 ? run + 1 : 1;
    if (run >= n) return true;
  }
  return false;
}
function realistic(make) {
  for (;;) {
    const v = make();
    if (!PLACEHOLDER_MARKER.test(v) && !sequentialRun(v)) return v;
  }
}
// A GitHub classic token: ghp_ + 30 base62 + the base62 CRC32 of the 30 chars (6 chars).
export const githubToken = () => realistic(() => {
  const body = randomFrom(BASE62, 30);
  let c = crc32(body), sum = '';
  for (let i = 0; i < 6; i++) { sum = BASE62[c % 62] + sum; c = Math.floor(c / 62); }
  return 'ghp_' + body + sum;
});
// An AWS access key id: AKIA + 16 base32 chars.
export const awsKeyId = () => realistic(() => 'AKIA' + randomFrom('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16));
// An Anthropic API key in the real format (for the "headers are not findings" test).
export const anthropicKey = () => realistic(() =>
  'sk-ant-api03-' + randomFrom('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-', 93) + 'AA');

// Pieces of a secret that must not leak either (a prefix-stripped middle part).
export function secretPieces(secret) {
  return [secret, secret.slice(4, 16), secret.slice(-12)];
}

export function messagesBody(text, extra = {}) {
  return JSON.stringify({
    model: 'claude-test-1',
    max_tokens: 64,
    messages: [{ role: 'user', content: text }],
    ...extra,
  });
}

// ---- the fake API's record --------------------------------------------------------------------

export function readRecord() {
  if (!fs.existsSync(env.recordFile)) return [];
  return fs.readFileSync(env.recordFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
export const recordText = () => (fs.existsSync(env.recordFile) ? fs.readFileSync(env.recordFile, 'utf8') : '');
export function recordHas(needle) {
  // Raw and JSON-escaped (the record is JSON lines).
  const t = recordText();
  return t.includes(needle) || t.includes(JSON.stringify(needle).slice(1, -1));
}
export function recordEntries(pathPart) {
  return readRecord().filter((e) => e.path.includes(pathPart) || e.body.includes(pathPart));
}

// ---- promptgate processes ---------------------------------------------------------------------

const running = new Set();
let proxyCount = 0;

// Starts `promptgate run` with its own PROMPTGATE_HOME and audit log. `yaml`: an optional config
// file text; `args`: extra command-line arguments; `flags` false: pass no --connect-to etc.
// `home`: a PROMPTGATE_HOME prepared by the caller (default: a new empty one); `extraEnv`: more
// environment variables (PROMPTGATE_KEY_FILE, POD_NAME).
export async function startProxy({ yaml = null, args = [], flags = true, home = null, extraEnv = {} } = {}) {
  const n = ++proxyCount;
  const dir = fs.mkdtempSync(path.join(env.workdir, `proxy${n}-`));
  if (!home) {
    home = path.join(dir, 'home');
    fs.mkdirSync(home);
  }
  const audit = path.join(dir, 'audit.jsonl');
  const argv = ['run'];
  if (yaml !== null) {
    const cfg = path.join(dir, 'promptgate.yaml');
    fs.writeFileSync(cfg, yaml);
    argv.push('--config', cfg);
  }
  if (flags) {
    argv.push('--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--upstream-ca', env.upstreamCa,
      '--connect-to', `api.anthropic.com:443:127.0.0.1:${env.fakePort}`, '--audit-log', audit);
  }
  argv.push(...args);
  const proc = spawn(env.bin, argv, { env: { ...process.env, PROMPTGATE_HOME: home, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let stderr = '', stdout = '';
  proc.stdout.on('data', (d) => { stdout += d; });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`promptgate did not start in 15 s; stderr:\n${stderr}`)), 15000);
    proc.stderr.on('data', (d) => {
      stderr += d;
      const m = /promptgate listening on [^\s]*:(\d+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`promptgate exited (${code ?? sig}) before listening; args ${argv.join(' ')}\nstderr:\n${stderr}`));
    });
  });
  const caFile = path.join(home, 'ca.pem');
  if (!fs.existsSync(caFile)) throw new Error(`no CA at ${caFile} after start`);
  const adminMatch = /promptgate admin on [^\s]*:(\d+)/.exec(stderr);
  const p = {
    port, home, dir, audit, proc, caFile,
    adminPort: adminMatch ? Number(adminMatch[1]) : 0,
    ca: fs.readFileSync(caFile),
    proxyUrl: `http://127.0.0.1:${port}`,
    get stderr() { return stderr; },
    get stdout() { return stdout; },
    alive: () => proc.exitCode === null && proc.signalCode === null,
    auditLines: () => readAudit(audit),
    stop: () => stopProxy(proc),
  };
  return p;
}

async function stopProxy(proc) {
  if (proc.exitCode !== null || proc.signalCode !== null) { running.delete(proc); return; }
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
  running.delete(proc);
}
export async function stopAll() {
  await Promise.all([...running].map(stopProxy));
}
process.on('exit', () => { for (const p of running) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

export function readAudit(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
    try { return JSON.parse(l); } catch { return { unparsable: l }; }
  });
}
// Waits (up to 3 s) for an audit line matching pred; returns it or undefined.
export async function waitAudit(file, pred, ms = 3000) {
  const end = Date.now() + ms;
  for (;;) {
    const hit = readAudit(file).find(pred);
    if (hit || Date.now() > end) return hit;
    await sleep(50);
  }
}

// ---- clients ----------------------------------------------------------------------------------

// Runs curl; resolves {code, stdout, stderr} (never rejects on a curl failure).
export function curl(args, { timeoutMs = 15000 } = {}) {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', String(Math.ceil(timeoutMs / 1000)), ...args],
      { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
  });
}
// curl through the proxy to api.anthropic.com, trusting the proxy's CA; returns
// {code, status (of the origin's answer, 0 if none), headers (raw text), body}.
export async function curlApi(proxy, urlPath, curlArgs = [], opts = {}) {
  const id = marker();
  const hdr = path.join(env.workdir, `hdr-${id}.txt`), out = path.join(env.workdir, `out-${id}.txt`);
  const r = await curl(['--proxy', proxy.proxyUrl, '--cacert', proxy.caFile, '-D', hdr, '-o', out, '-w', '%{http_code}',
    ...curlArgs, `https://api.anthropic.com${urlPath}`], opts);
  // -D also holds the proxy's CONNECT answer: keep the origin's headers (the last block).
  const blocks = fs.existsSync(hdr) ? fs.readFileSync(hdr, 'utf8').split(/\r?\n\r?\n/).filter((b) => b.trim()) : [];
  const body = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
  return { ...r, status: Number(r.stdout.trim()) || 0, headers: blocks.length ? blocks[blocks.length - 1] : '', body };
}
// A config file text: intercept api.anthropic.com (the built-in catalogue of model hosts is
// intercepted as well) plus `extra` YAML lines.
export function configYaml(extra = '') {
  return `destinations:\n  default: tunnel\n  intercept: [api.anthropic.com]\n${extra}`;
}
export function writeTemp(name, data) {
  const f = path.join(env.workdir, `${marker('f')}-${name}`);
  fs.writeFileSync(f, data);
  return f;
}

// Opens a CONNECT tunnel through the proxy; resolves {status, socket, head, res}.
export function openConnect(proxy, authority, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'CONNECT', path: authority,
      headers: { host: authority } });
    const t = setTimeout(() => { req.destroy(); reject(new Error(`CONNECT ${authority} timed out`)); }, timeoutMs);
    req.on('connect', (res, socket, head) => { clearTimeout(t); resolve({ status: res.statusCode, res, socket, head }); });
    req.on('error', (e) => { clearTimeout(t); reject(e); });
    req.end();
  });
}

// CONNECT + TLS: resolves a connected TLSSocket (rejects on a handshake failure).
export async function tlsThroughProxy(proxy, host, { ca = proxy.ca, port = 443 } = {}) {
  const { status, socket } = await openConnect(proxy, `${host}:${port}`);
  if (status !== 200) { socket.destroy(); throw new Error(`CONNECT ${host}:${port} answered ${status}`); }
  return new Promise((resolve, reject) => {
    const s = tls.connect({ socket, servername: host, ca, ALPNProtocols: ['http/1.1'] });
    s.once('secureConnect', () => resolve(s));
    s.once('error', reject);
  });
}

// An https.Agent that reaches every origin through the proxy's CONNECT (keep-alive, one socket
// per origin unless told otherwise). `connects` counts the tunnels it opened.
export class TunnelAgent extends https.Agent {
  constructor(proxy, opts = {}) {
    super({ keepAlive: true, maxSockets: 1, ...opts });
    this.proxy = proxy;
    this.connects = 0;
    this.caPem = opts.caPem ?? proxy.ca;
  }
  createConnection(options, cb) {
    this.connects++;
    tlsThroughProxy(this.proxy, options.host, { ca: this.caPem, port: options.port || 443 })
      .then((s) => cb(null, s), (e) => cb(e));
  }
}

// One HTTPS request through an agent; resolves {status, headers, body (Buffer), socket}.
export function request(agent, { method = 'GET', host = 'api.anthropic.com', path: p = '/', headers = {}, body = null, timeoutMs = 10000 }) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port: 443, method, path: p, agent, headers, servername: host }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks), socket: res.socket }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`request ${p} timed out`)));
    req.on('error', reject);
    if (body !== null) req.end(body); else req.end();
  });
}

// Writes raw bytes on a socket and collects what comes back until the peer closes, an HTTP
// response is complete, or timeoutMs passes. Resolves {data, status, closed, timedOut, error}.
export function rawExchange(socket, chunks, { timeoutMs = 5000, end = false, destroyAfterWrite = false, gapMs = 0 } = {}) {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0), done = false, closed = false, error = null;
    const finish = (timedOut = false) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data.toString('latin1'));
      resolve({ data, text: data.toString('utf8'), status: m ? Number(m[1]) : 0, closed, timedOut, error });
      socket.destroy();
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('data', (d) => {
      data = Buffer.concat([data, d]);
      if (responseComplete(data)) finish();
    });
    socket.on('error', (e) => { error = e; closed = true; finish(); });
    socket.on('close', () => { closed = true; finish(); });
    (async () => {
      for (const c of chunks) {
        if (socket.destroyed) return;
        socket.write(c);
        if (gapMs) await sleep(gapMs);
      }
      if (destroyAfterWrite) { await sleep(50); socket.destroy(); closed = true; finish(); return; }
      if (end) socket.end();
    })();
  });
}

function responseComplete(buf) {
  const s = buf.toString('latin1');
  const headEnd = s.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  const head = s.slice(0, headEnd);
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) return buf.length >= headEnd + 4 + Number(cl[1]);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return s.endsWith('0\r\n\r\n');
  return false;
}

export function rawPlain(proxy) {
  return new Promise((resolve, reject) => {
    const s = net.connect(proxy.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

export function bodyOf(raw) {
  const i = raw.indexOf('\r\n\r\n');
  return i < 0 ? '' : raw.slice(i + 4);
}

// A port nothing listens on.
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}
