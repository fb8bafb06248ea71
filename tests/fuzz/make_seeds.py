#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets (tests/fuzz/corpus/<target>/, see README.md).

Every seed is synthetic: small inputs built from public format facts (HTTP/1.1 framing, gzip,
brotli and zstd streams made by the system's own encoders, PDF / OOXML / PNG / GIF structure,
the audit log's hash chain). Run it again after changing a target's input layout:
    python3 tests/fuzz/make_seeds.py
"""
import ctypes
import gzip
import hashlib
import io
import pathlib
import struct
import zipfile
import zlib

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def write(target, name, data):
    d = ROOT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# --- http_request: [piece-size seed] + the client's bytes ------------------------------------
BODY = b'{"model":"claude-test-1","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}'


def post(path, headers, body):
    head = f"POST {path} HTTP/1.1\r\nHost: api.example.test\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode() + body


def chunked(body, sizes, trailer=b""):
    out, at = b"", 0
    for n in sizes:
        out += b"%x\r\n" % n + body[at:at + n] + b"\r\n"
        at += n
    return out + b"0\r\n" + trailer + b"\r\n"


write("http_request", "content_length", b"\x07" + post(
    "/v1/messages", [("Content-Type", "application/json"), ("Content-Length", len(BODY))], BODY))
write("http_request", "chunked", b"\x21" + post(
    "/v1/messages?beta=true", [("Content-Type", "application/json"),
                               ("Transfer-Encoding", "chunked")],
    chunked(BODY, [10, 30, len(BODY) - 40])))
write("http_request", "chunked_trailer_ext", b"\x03" + post(
    "/v1/files", [("Transfer-Encoding", "chunked"), ("Expect", "100-continue")],
    b"5;name=value\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n"))
write("http_request", "pipelined", b"\x55" + post(
    "/v1/messages", [("Content-Length", 2), ("Connection", "keep-alive")], b"{}") +
    b"GET /v1/models?q=a%20b+c%2 HTTP/1.1\r\nHost: api.example.test\r\n\r\n" + post(
    "/v1/messages", [("Content-Encoding", "gzip, br"), ("Content-Length", 3)], b"abc"))
write("http_request", "http10_te", b"\x01" +
      b"POST / HTTP/1.0\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
write("http_request", "absolute_form", b"\x10" +
      b"POST http://api.example.test:8080/v1/complete HTTP/1.1\r\nHost: api.example.test\r\n"
      b"Proxy-Authorization: Basic dXNlcjpwYXNz\r\nContent-Type: text/plain\r\n"
      b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")

# --- content_decoding: [coding index][piece-size seed][bound selector] + the encoded body ------
# Coding indices follow kCodings in fuzz_content_decoding.cc.
GZIP, DEFLATE, BR, ZSTD, IDENTITY, XGZIP, GZIP_BR, BR_ZSTD, ZSTD_GZIP = range(9)
brotli = ctypes.CDLL("libbrotlienc.so.1")
zstd = ctypes.CDLL("libzstd.so.1")
zstd.ZSTD_compressBound.restype = ctypes.c_size_t
zstd.ZSTD_compress.restype = ctypes.c_size_t


def br(data, quality=5):
    out = ctypes.create_string_buffer(len(data) + 1024)
    size = ctypes.c_size_t(len(out))
    assert brotli.BrotliEncoderCompress(quality, 16, 0, ctypes.c_size_t(len(data)), data,
                                        ctypes.byref(size), out)
    return out.raw[:size.value]


def zst(data, level=3):
    out = ctypes.create_string_buffer(zstd.ZSTD_compressBound(ctypes.c_size_t(len(data))))
    n = zstd.ZSTD_compress(out, ctypes.c_size_t(len(out)), data, ctypes.c_size_t(len(data)), level)
    return out.raw[:n]


def gz(data):
    return gzip.compress(data, mtime=0)


TEXT = BODY * 8
write("content_decoding", "gzip", bytes([GZIP, 5, 255]) + gz(TEXT))
write("content_decoding", "deflate_zlib", bytes([DEFLATE, 9, 255]) + zlib.compress(TEXT))
raw = zlib.compressobj(6, zlib.DEFLATED, -15)
write("content_decoding", "deflate_raw", bytes([DEFLATE, 1, 255]) + raw.compress(TEXT) + raw.flush())
write("content_decoding", "br", bytes([BR, 7, 255]) + br(TEXT))
write("content_decoding", "zstd", bytes([ZSTD, 3, 255]) + zst(TEXT))
write("content_decoding", "identity", bytes([IDENTITY, 2, 1]) + BODY)
write("content_decoding", "gzip_then_br", bytes([GZIP_BR, 11, 255]) + br(gz(TEXT)))
write("content_decoding", "bomb_gzip", bytes([XGZIP, 13, 2]) + gz(b"\0" * 60000))
write("content_decoding", "zstd_two_frames", bytes([ZSTD_GZIP, 4, 255]) + zst(gz(BODY)) + zst(b""))
# Found by fuzzing: a frame whose header declares 11,688 bytes and whose one (last, raw) block is
# empty; libzstd refused it whole and accepted it split, until the decoder checked the size.
write("content_decoding", "zstd-declared-size-mismatch",
      bytes([ZSTD, 7, 255]) + bytes.fromhex("28b52ffd60a82d010000"))
# Also found: a frame with libzstd's legacy v0.7 magic, decoded whole and refused split by libzstd.
write("content_decoding", "zstd-legacy-magic", bytes([ZSTD, 255, 7]) + bytes.fromhex("27b52ffd60a800000000"))

# --- sse_restorer: [piece-size seed] + "standin\toriginal" lines + empty line + the answer -----
def event(name, data):
    return f"event: {name}\ndata: {data}\n\n"


def sse(deltas, eol="\n"):
    s = event("message_start", '{"type":"message_start","message":{"id":"msg_1","content":[]}}')
    s += event("content_block_start",
               '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}')
    for i, (kind, text) in enumerate(deltas):
        key = "text" if kind == "text_delta" else "partial_json"
        s += event("content_block_delta",
                   '{"type":"content_block_delta","index":%d,"delta":{"type":"%s","%s":"%s"}}'
                   % (0 if kind == "text_delta" else 1, kind, key, text))
    s += event("content_block_stop", '{"type":"content_block_stop","index":0}')
    s += event("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn"}}')
    s += event("message_stop", '{"type":"message_stop"}')
    return s.replace("\n", eol)


MAP = "tok_STANDIN0001\tvalue-one\nAKIAFAKE00000000\tsecret\"two\\\n\n"
write("sse_restorer", "split_standin", "\x05" + MAP + sse(
    [("text_delta", "key is tok_STAN"), ("text_delta", "DIN0001 ok"), ("text_delta", "AKIAFA")]))
write("sse_restorer", "json_delta_crlf", "\x09" + MAP + sse(
    [("input_json_delta", "{\\\"k\\\": \\\"AKIAFAKE00000000\\\"}"), ("text_delta", "done")],
    "\r\n"))
write("sse_restorer", "no_map", "\x01\n" + sse([("text_delta", "plain answer")]))
write("sse_restorer", "json_body", "\x02" + MAP +
      '{"content":[{"type":"text","text":"tok_STANDIN0001 and AKIAFAKE00000000"}]}')
write("sse_restorer", "error_event", "\x03" + MAP + event(
    "content_block_delta",
    '{"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"tok_"}}') +
    event("error", '{"type":"error","error":{"type":"overloaded_error"}}') + ": comment\n\n")

# Regression: a delta whose "type" is not a string made the restorer throw (nlohmann type_error).
write("sse_restorer", "delta_type_not_string", "\x04" + MAP + event(
    "content_block_delta",
    '{"type":"content_block_delta","index":0,"delta":{"type":[],"text":"tok_STANDIN0001"}}'))

# --- config: the YAML itself -----------------------------------------------------------------
write("config", "minimal", "listen: 127.0.0.1:8080\nmode: monitor\n")
write("config", "destinations_actions", """listen: 127.0.0.1:8080
mode: enforce
audit_log: ""
connect_to: ["api.example.test:443:10.0.0.5:443"]
rules: [builtin]
destinations:
  default: deny
  intercept_builtin: true
  intercept: [llm-gateway.example.internal]
  tunnel: [registry.example.test]
  deny: ["*.telemetry.example.test"]
actions:
  - {rule: generic-password-assignment, action: log}
  - {category: pii, host: api.example.test, action: tokenize}
block_status: 400
scan_headers: [x-note]
max_body_bytes: 1048576
max_decoded_body_bytes: 4194304
max_header_bytes: 8192
timeouts: {header_ms: 1000, body_ms: 2000, idle_ms: 3000}
""")
write("config", "gateway", """listen: 0.0.0.0:8080
admin_listen: 127.0.0.1:9090
auth:
  users_file: /nonexistent/users
  groups: {security: [alice], ci: [ci-bot]}
policies:
  - name: monitored
    groups: [security]
    mode: monitor
  - name: ci
    users: [ci-bot]
    hosts: ["bedrock-runtime.*.amazonaws.com"]
    actions: [{category: credential, action: redact}]
allowed_connect_ports: [443, 8443]
allowed_private_hosts: []
max_connections: 100
max_connections_per_client: 8
tokenize: {max_conversations: 10, max_entries_per_conversation: 10, idle_ttl_seconds: 60}
incremental_scan: {enabled: true, max_identities: 4}
overrides: {enabled: true, categories: [pii], ttl_seconds: 600, min_justification: 10}
""")
write("config", "errors", "listen: [\nmode: sometimes\nunknown_key: 1\n")

# --- rule_pack: the YAML itself ----------------------------------------------------------------
write("rule_pack", "token", """pack: seed
rules:
  - id: seed-token
    category: credential
    severity: high
    action: block
    description: a synthetic token
    pattern: '\\bsdk_[A-Za-z0-9]{12,24}\\b'
    examples:
      match: ['sdk_ABCDEFGHIJKLMN']
      no_match: ['sdk_short']
""")
write("rule_pack", "context_validator", """pack: seed2
rules:
  - id: seed-password
    category: credential
    severity: medium
    action: redact
    description: password near a word
    pattern: '(?i)passwd\\s*[:=]\\s*(?P<secret>[^\\s"]{6,32})'
    context: {words: [db, database], within: 24}
  - id: seed-card
    category: pci
    severity: high
    action: tokenize
    description: card number
    pattern: '\\b4[0-9]{15}\\b'
    validators: [luhn]
""")
write("rule_pack", "bad_regex", "pack: bad\nrules:\n  - id: x\n    category: credential\n"
      "    severity: low\n    action: log\n    description: d\n    pattern: '(unclosed'\n")

# --- audit_verify: [cut selector] + the files ----------------------------------------------------
def chain(events, start_seq=1, prev="0" * 64, marker=None):
    lines = []
    for i, e in enumerate(events):
        line = e[:-1] + ',"seq":%d,"prev":"%s"' % (start_seq + i, prev)
        if marker and i == 0:
            line += ',"chain":"%s"' % marker
        line += "}"
        prev = hashlib.sha256(line.encode()).hexdigest()
        lines.append(line)
    return "".join(l + "\n" for l in lines), prev


EVENTS = ['{"ts":"2026-01-01T00:00:0%dZ","request_id":"r%d","decision":"allow","findings":[]}'
          % (i, i) for i in range(4)]
log, last = chain(EVENTS)
write("audit_verify", "chain", "\x00" + log)
write("audit_verify", "rotated", "\x02" + log)
restart, _ = chain(EVENTS[:2], 7, last, "restart")
write("audit_verify", "restart_after_torn", "\x00" + log + '{"ts":"torn\n' + restart)
write("audit_verify", "unchained_then_start", "\x01" + EVENTS[0] + "\n" +
      chain(EVENTS[1:3], 1, "0" * 64, "start")[0])
write("audit_verify", "edited", "\x00" + log.replace("allow", "block", 1))

# --- multipart: [finding offset] + Content-Type + "\n" + body ----------------------------------
def multipart(boundary, parts, preamble=b""):
    out = preamble
    for head, content in parts:
        out += b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


PDF_MAGIC = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
write("multipart", "file_upload", b"\x80multipart/form-data; boundary=XyZ123\n" + multipart(
    b"XyZ123", [(b'Content-Disposition: form-data; name="purpose"', b"assistants"),
                (b'Content-Disposition: form-data; name="file"; filename="report.pdf"\r\n'
                 b"Content-Type: application/pdf", PDF_MAGIC)]))
write("multipart", "quoted_boundary", b"\x30multipart/form-data; boundary=\"a b:c\"\n" + multipart(
    b"a b:c", [(b'Content-Disposition: form-data; name="img"; filename="shot.PNG"', PNG_MAGIC),
               (b"", b"no head"),
               (b'Content-Disposition: form-data; name="doc"; filename="notes.docx"',
                b"PK\x03\x04" + b"\0" * 26)], b"preamble\r\n"))
write("multipart", "unterminated", b"\x10multipart/form-data; boundary=B\n--B\r\n"
      b"Content-Disposition: form-data; name=\"f\"\r\n\r\nno closing line")

# --- readers: the file itself ------------------------------------------------------------------
def pdf(page_contents):
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", None,
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for content in page_contents:
        stream = zlib.compress(content.encode())
        objs.append("<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream))
        objs[-1] = objs[-1].encode() + stream + b"\nendstream"
        objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents %d 0 R "
                    "/Resources << /Font << /F1 3 0 R >> >> >>" % (len(objs)))
        kids.append("%d 0 R" % len(objs))
    objs[1] = "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join(kids), len(kids))
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs):
        offsets.append(len(out))
        body = o if isinstance(o, bytes) else o.encode()
        out += b"%d 0 obj\n" % (i + 1) + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


write("read_pdf", "text_page", pdf(["BT /F1 12 Tf 10 50 Td (sample text 123) Tj ET"]))
write("read_pdf", "two_pages", pdf(["BT /F1 10 Tf 5 80 Td (page one) Tj ET",
                                    "BT /F1 10 Tf 5 80 Td (page two \\(x\\)) Tj ET"]))
write("read_pdf", "blank_page", pdf(["0 0 m 100 50 l S"]))


def ooxml(parts):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        # Fixed dates, so that running this again writes the same bytes.
        z.writestr(zipfile.ZipInfo("[Content_Types].xml", (2020, 1, 1, 0, 0, 0)),
                   '<?xml version="1.0"?><Types/>')
        for name, xml in parts.items():
            z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), xml, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
write("read_office", "docx", ooxml({"word/document.xml": f'<w:document {W}><w:body><w:p><w:r>'
                                    '<w:t>hello &amp; &#x263A; world</w:t></w:r></w:p>'
                                    '</w:body></w:document>'}))
# Regression: an entry whose name has no ".xml" (a picture) made number_in() read before the name.
write("read_office", "docx_media_entry", ooxml({
    "word/document.xml": f'<w:document {W}><w:body><w:p><w:r><w:t>x</w:t></w:r></w:p></w:body>'
                         '</w:document>',
    "word/media/image1.png": "\x89PNG"}))
write("read_office", "xlsx", ooxml({
    "xl/workbook.xml": '<workbook><sheets><sheet name="s" sheetId="1"/></sheets></workbook>',
    "xl/sharedStrings.xml": '<sst><si><t>cell one</t></si><si><r><t>rich</t></r></si></sst>',
    "xl/worksheets/sheet1.xml": '<worksheet><sheetData><row><c t="inlineStr"><is><t>inline</t>'
                                '</is></c><c><v>42</v></c></row></sheetData></worksheet>'}))
write("read_office", "pptx", ooxml({
    "ppt/presentation.xml": '<p:presentation xmlns:p="p"/>',
    "ppt/slides/slide1.xml": '<p:sld xmlns:a="a" xmlns:p="p"><a:t>slide text</a:t></p:sld>',
    "ppt/notesSlides/notesSlide1.xml": '<p:notes xmlns:a="a" xmlns:p="p"><a:t>notes</a:t></p:notes>'}))


def png(width, height, pixel):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xffffffff)
    rows = b"".join(b"\0" + bytes(pixel(x, y) for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                              0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


write("read_picture", "png_bars", png(48, 16, lambda x, y: 0 if (x // 4) % 2 and 4 < y < 12 else 255))
write("read_picture", "png_blank", png(8, 8, lambda x, y: 255))
# A 2x2 GIF: header, logical screen, a 2-colour table, an image block with LZW data.
write("read_picture", "gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00"
      b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
