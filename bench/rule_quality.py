#!/usr/bin/env python3
"""Recall and precision of `promptgate scan` on a labelled synthetic corpus, and credential
findings per MB on real text nobody here wrote.

Every positive line carries one value generated now from public format facts (prefix, length,
alphabet, checksum); every negative line carries a near miss: a documentation placeholder, a
hash, a UUID, an identifier, a value with a bad checksum. A finding on a positive line is a true
positive; any finding on a negative line is a false positive. The generator does not read the
rule packs, so the figures do not grade the rules by their own examples.

usage: rule_quality.py synthetic PROMPTGATE [--seed N] [--per-kind N]
       rule_quality.py realtext PROMPTGATE PATH...      (findings per MB, per rule; no values)
Run the same command with another binary (a build of the base commit) for before/after.
"""
import json, os, random, string, subprocess, sys, tempfile, zlib, collections

B62 = string.ascii_letters + string.digits
HEX = '0123456789abcdef'
B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'


def rs(r, n, alpha=B62):
    return ''.join(r.choice(alpha) for _ in range(n))


def crc_b62(body):
    c = zlib.crc32(body.encode()) & 0xffffffff
    out = ''
    for _ in range(6):
        out = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[c % 62] + out
        c //= 62
    return out


def luhn_complete(r, prefix, length):
    d = prefix + ''.join(r.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for c in string.digits:
        n = d + c
        s = 0
        for i, ch in enumerate(reversed(n)):
            v = int(ch)
            if i % 2:
                v *= 2
                v -= 9 if v > 9 else 0
            s += v
        if s % 10 == 0:
            return n


def iban(r, cc, length, spaced):
    bban = ''.join(r.choice(string.digits) for _ in range(length - 4))
    num = ''.join(str(int(ch, 36)) for ch in bban + cc + '00')
    chk = 98 - int(num) % 97
    v = cc + '%02d' % chk + bban
    return ' '.join(v[i:i + 4] for i in range(0, len(v), 4)) if spaced else v


def bad_check(v):
    """The value with its last digit changed: Luhn and mod-97 both catch a one-digit change."""
    return v[:-1] + str((int(v[-1]) + 5) % 10)


def mbi(r):
    L = 'ACDEFGHJKMNPQRTUVWXY'
    D = string.digits
    pos = ['123456789', L, L + D, D, L, L + D, D, L, L, D, D]
    return ''.join(r.choice(p) for p in pos)


def nino(r):
    first = 'ABCEGHJKLMNOPRSTWXYZ'
    second = 'ABCEGHJKLMNPRSTWXYZ'
    while True:
        p = r.choice(first) + r.choice(second)
        if p not in ('BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'):
            break
    return p + ''.join(r.choice(string.digits) for _ in range(6)) + r.choice('ABCD')


def itin(r):
    g = r.choice(list(range(50, 66)) + list(range(70, 89)) + [90, 91, 92] + list(range(94, 100)))
    return '9%02d-%02d-%04d' % (r.randrange(100), g, r.randrange(1, 10000))


def password(r):
    sym = '$!@#%^&*'
    return ''.join(r.choice(B62 + sym) for _ in range(14)) + r.choice(sym)


def positives(r):
    """(kind, line) pairs, one value each."""
    gh = rs(r, 30)
    return [
        ('aws-key-id', 'aws_access_key_id = AKIA' + rs(r, 16, B32)),
        ('github-pat', 'token: ghp_' + gh + crc_b62(gh)),
        ('slack-bot', 'SLACK=xoxb-%s-%s-%s' % (rs(r, 11, string.digits), rs(r, 12, string.digits), rs(r, 24))),
        ('anthropic', 'curl -H "x-api-key: sk-ant-api03-' + rs(r, 93, B62 + '-_') + 'AA"'),
        ('openai', 'OPENAI_API_KEY=sk-proj-' + rs(r, 48, B62 + '-_') + 'T3BlbkFJ' + rs(r, 48, B62 + '-_')),
        ('stripe', 'stripe.api_key = "sk_live_' + rs(r, 24) + '"'),
        ('google-api', 'key=AIza' + rs(r, 35, B62 + '-_')),
        ('twilio-sk-bare', 'here is the key: SK' + rs(r, 32, HEX)),
        ('telegram-bare', 'use this one %d:AA%s' % (r.randrange(10**8, 10**10), rs(r, 33, B62 + '_-'))),
        ('password-symbols', '{"password": "%s"}' % password(r)),
        ('iban-bare', 'pay to ' + iban(r, 'DE', 22, r.random() < 0.5) + ' today'),
        ('iban-bare-fr', 'account ' + iban(r, 'FR', 27, r.random() < 0.5)),
        ('card', 'card: ' + luhn_complete(r, '4', 16)),
        ('email', 'mail it to kim.lee%d@mailhost-%d.org' % (r.randrange(1000), r.randrange(99))),
        ('ssn-context', 'SSN: %03d-%02d-%04d' % (r.randrange(1, 665), r.randrange(1, 99), r.randrange(1, 9999))),
        ('mbi-bare', 'member ' + mbi(r)),
        ('nino-bare', 'ref ' + nino(r)),
        ('itin-bare', 'filed under ' + itin(r)),
        ('pem', '-----BEGIN RSA PRIVATE KEY-----\\nMIIEow' + rs(r, 60, B62 + '+/') + '\\n-----END RSA PRIVATE KEY-----'),
        ('npm', '//registry.npmjs.org/:_authToken=npm_' + (lambda b: b + crc_b62(b))(rs(r, 30))),
        ('jfrog', 'artifactory key AKCp8' + rs(r, 68)),
        ('snyk', 'SNYK_TOKEN=' + '-'.join(rs(r, n, HEX) for n in (8, 4, 4, 4, 12))),
        ('sonarqube', 'sonar.token=squ_' + rs(r, 40, HEX)),
        ('asana', 'ASANA_TOKEN=2/%d/%d:%s' % (r.randrange(10**15, 10**16), r.randrange(10**15, 10**16), rs(r, 32, HEX))),
        ('sidekiq', 'BUNDLE_ENTERPRISE__CONTRIBSYS__COM=%s:%s' % (rs(r, 8, HEX), rs(r, 8, HEX))),
    ]


def negatives(r):
    return [
        ('placeholder-aws', 'aws_access_key_id = AKIAXXXXXXXXXXXXXXXX'),
        ('placeholder-anthropic', 'set ANTHROPIC_API_KEY=sk-ant-api03-...'),
        ('placeholder-grafana', 'GRAFANA_TOKEN=glc_' + 'x' * 40),
        ('placeholder-glsa', 'token glsa_' + 'X' * 32 + '_AAAAAAAA'),
        ('placeholder-tfc', 'TFE_TOKEN=xxxxxxxxxxxxxx.atlasv1.' + 'x' * 60),
        ('placeholder-neo4j', 'NEO4J_URI=neo4j://neo4j:[PASSWORD]@localhost:7687'),
        ('placeholder-angle', 'Authorization: Bearer <your-key>'),
        ('placeholder-template', 'password: ${DB_PASSWORD}'),
        ('placeholder-stars', '"api_key": "****************"'),
        ('placeholder-seq', 'secret = "abcdefghijklmnopqrstuvwxyz012345"'),
        ('placeholder-varname', 'password = DB_PASSWORD'),
        ('sha1', 'commit ' + rs(r, 40, HEX)),
        ('sha256', 'sha256:' + rs(r, 64, HEX)),
        ('uuid', 'request id ' + '-'.join(rs(r, n, HEX) for n in (8, 4, 4, 4, 12))),
        ('bad-iban', 'pay to ' + bad_check(iban(r, 'DE', 22, False))),
        ('bad-card', 'order ' + bad_check(luhn_complete(r, '4', 16))),
        ('nine-digits', 'order number %d shipped' % r.randrange(10**8, 10**9)),
        ('phone-bare', 'call 415 %03d %04d' % (r.randrange(200, 999), r.randrange(10000))),
        ('version', 'upgraded to v%d.%d.%d-build.%d' % (r.randrange(9), r.randrange(30), r.randrange(30), r.randrange(9999))),
        ('identifier', 'const %s = useState(%s);' % (rs(r, 12, string.ascii_lowercase), rs(r, 8, string.ascii_lowercase))),
        ('base64-prose', 'data: ' + rs(r, 44, B62 + '+/') + '='),
        ('bad-github', 'token ghp_' + rs(r, 36)),
        ('hex-sk-short', 'SK' + rs(r, 20, HEX) + ' is a SKU'),
    ]


def scan(binary, text):
    with tempfile.NamedTemporaryFile('w', suffix='.txt', delete=False) as f:
        f.write(text)
        path = f.name
    env = dict(os.environ, PROMPTGATE_HOME=tempfile.mkdtemp())
    out = subprocess.run([binary, 'scan', '--format', 'jsonl', path], capture_output=True, text=True, env=env)
    os.unlink(path)
    if out.returncode not in (0, 1):
        sys.exit('scan failed: ' + out.stderr)
    return [json.loads(l) for l in out.stdout.splitlines() if l.startswith('{')]


def synthetic(binary, seed, per_kind):
    r = random.Random(seed)
    lines, labels = [], []
    for _ in range(per_kind):
        for kind, line in positives(r):
            lines.append(line); labels.append(('pos', kind))
        for kind, line in negatives(r):
            lines.append(line); labels.append(('neg', kind))
    text = '\n\n'.join(lines) + '\n'
    starts, off = [], 0
    for l in lines:
        starts.append(off); off += len(l.encode()) + 2
    import bisect
    hit = collections.defaultdict(set)
    fp_rules = collections.Counter()
    for f in scan(binary, text):
        i = bisect.bisect_right(starts, f['start']) - 1
        hit[i].add(f['rule'])
        if labels[i][0] == 'neg':
            fp_rules[(labels[i][1], f['rule'])] += 1
    per = collections.defaultdict(lambda: [0, 0])
    tp = fn = fpl = 0
    for i, (lab, kind) in enumerate(labels):
        found = bool(hit.get(i))
        per[(lab, kind)][0] += found; per[(lab, kind)][1] += 1
        if lab == 'pos':
            tp += found; fn += not found
        else:
            fpl += found
    print('kind                       flagged/lines')
    for (lab, kind), (a, n) in sorted(per.items()):
        print('%-4s %-24s %4d/%d' % (lab, kind, a, n))
    for (kind, rule), n in fp_rules.most_common(15):
        print('  false positive: %-22s by %s x%d' % (kind, rule, n))
    print('recall %.1f%% (%d/%d positive lines), precision %.1f%% (%d true / %d flagged lines)' % (
        100.0 * tp / (tp + fn), tp, tp + fn, 100.0 * tp / max(1, tp + fpl), tp, tp + fpl))


def realtext(binary, paths):
    env = dict(os.environ, PROMPTGATE_HOME=tempfile.mkdtemp())
    size = 0
    for p in paths:
        for root, _, files in os.walk(p) if os.path.isdir(p) else [(os.path.dirname(p), [], [os.path.basename(p)])]:
            for fn in files:
                fp = os.path.join(root, fn)
                if os.path.isfile(fp) and not os.path.islink(fp):
                    size += os.path.getsize(fp)
    out = subprocess.run([binary, 'scan', '--format', 'jsonl'] + paths, capture_output=True, text=True, env=env)
    rules = collections.Counter()
    cred = 0
    for l in out.stdout.splitlines():
        if not l.startswith('{'):
            continue
        f = json.loads(l)
        rules[(f['category'], f['rule'])] += 1
        cred += f['category'] == 'credential'
    mb = size / 1e6
    print('%.1f MB scanned; credential findings %d (%.3f per MB); all findings %d' % (mb, cred, cred / mb, sum(rules.values())))
    for (cat, rule), n in rules.most_common(25):
        print('  %-11s %-40s %d' % (cat, rule, n))


if __name__ == '__main__':
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == 'synthetic':
        seed = int(a[a.index('--seed') + 1]) if '--seed' in a else 1
        per = int(a[a.index('--per-kind') + 1]) if '--per-kind' in a else 40
        synthetic(a[1], seed, per)
    elif len(a) >= 3 and a[0] == 'realtext':
        realtext(a[1], a[2:])
    else:
        sys.exit(__doc__)
