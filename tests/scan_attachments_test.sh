#!/usr/bin/env bash
# `promptgate scan` reads what a model would read: a PDF (plain, compressed, scanned), a DOCX and a
# screenshot (PNG, OCR) given as files, and a document block inside a saved JSON request, each
# found with its reader's location; clean twins pass; an unreadable PDF is an error (exit 2)
# unless --unreadable warn; --attachments skip reads none. The planted token is never printed.
# usage: scan_attachments_test.sh PATH_TO_PROMPTGATE PATH_TO_MAKE_ATTACHMENT
set -uo pipefail
pg=$1
make_attachment=$2
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/lib/harness.sh"
harness_init promptgate-scan-attachments-test --quiet
export PROMPTGATE_HOME=$work/home

token=$(gh_token 11)

mkdir -p "$work/dirty" "$work/clean"
for kind in pdf pdf-compressed pdf-scanned docx png; do
  ext=${kind%-*}
  "$make_attachment" "$kind" "$work/dirty/$kind.$ext" "deploy notes" "export GITHUB_TOKEN=$token"
  "$make_attachment" "$kind" "$work/clean/$kind.$ext" "deploy notes" "export GITHUB_TOKEN=<from the vault>"
done
# A saved Messages API request whose document block holds the compressed PDF.
python3 - "$work/dirty/pdf-compressed.pdf" > "$work/dirty/request.json" <<'PY'
import base64, json, sys
data = base64.b64encode(open(sys.argv[1], 'rb').read()).decode()
print(json.dumps({"messages": [{"role": "user", "content": [
    {"type": "text", "text": "summarise this"},
    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}]}]}))
PY
printf '%%PDF-1.7\n1 0 obj <</Type /Catalog>>\nnot a PDF body\n%%%%EOF\n' > "$work/broken.pdf"

pg_output_init

run scan --format text "$work/dirty"
check "a token in a PDF, DOCX, screenshot or JSON document block exits 1" '[ $status -eq 1 ]'
check "plain PDF: found on its page" 'echo "$out" | grep -q "dirty/pdf.pdf:.* github-pat-classic .* at pdf page 1,"'
check "compressed PDF: found on its page" 'echo "$out" | grep -q "dirty/pdf-compressed.pdf:.* github-pat-classic .* at pdf page 1,"'
check "scanned PDF (a picture, no text): found by OCR on its page" 'echo "$out" | grep -Eq "dirty/pdf-scanned.pdf:.* (github|token).* at pdf page 1, ocr,"'
check "DOCX: found in its text" 'echo "$out" | grep -q "dirty/docx.docx:.* at docx"'
check "screenshot: found by OCR" 'echo "$out" | grep -Eq "dirty/png.png:.* (github|token).* at picture, ocr"'
check "JSON body: the document block read" 'echo "$out" | grep -q "request.json:.* github-pat-classic .* at messages\[0\].content\[1\].source (pdf page 1)"'

run scan "$work/clean"
check "the clean twins pass (exit 0, nothing printed)" '[ $status -eq 0 ] && [ -z "$out" ] && [ -z "$err" ]'

run scan --attachments skip "$work/dirty/pdf-compressed.pdf" "$work/dirty/docx.docx"
check "--attachments skip reads no attachment" '[ $status -eq 0 ] && [ -z "$out" ]'

run scan "$work/broken.pdf" "$work/clean/pdf.pdf"
check "an unreadable PDF is an error naming the file and the reason" \
  '[ $status -eq 2 ] && echo "$err" | grep -q "broken.pdf: application/pdf: unreadable (.*corrupt"'
run scan --unreadable warn "$work/broken.pdf"
check "--unreadable warn: a warning, exit 0" '[ $status -eq 0 ] && echo "$err" | grep -q "not read: --unreadable warn"'

check "the token is never printed" '! grep -qF -- "${token:4:20}" "$all_output"'
echo "scan attachments: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
