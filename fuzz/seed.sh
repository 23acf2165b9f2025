#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/<target>/, not committed) from the
# project's own test fixtures: Meta's example payloads, the shipped knowledge files, and a
# few desk frames and signed_request payloads written out here. Re-running adds nothing new.
set -euo pipefail
cd "$(dirname "$0")"
root=..
corpus=corpus
mkdir -p "$corpus"/{webhook_raw,webhook_shapes,frame_codec,knowledge,signed_request,audit_export}

# Webhook bodies exactly as the end-to-end tests post them.
cp "$root"/tests/fixtures/meta/*.json "$corpus/webhook_raw/"
rm -f "$corpus/webhook_raw/manifest.json"

# Knowledge files: the examples, the evaluation sets, and the format's doc example.
for f in "$root"/assets/knowledge/*.toml "$root"/assets/eval/*.toml; do
    cp "$f" "$corpus/knowledge/$(basename "$(dirname "$f")")-$(basename "$f")"
done
sed -n 's|^//! \{0,1\}||p' "$root"/relay/src/knowledge.rs |
    sed -n '/^```toml$/,/^```$/p' | sed '1d;$d' >"$corpus/knowledge/doc-example.toml"

# Desk frames; the first byte picks the decoder (0/1 bincode client/server, 2/3 JSON).
printf '\x00\x00\x04\x03' >"$corpus/frame_codec/bin-hello"
printf '\x02{"type":"hello","protocol":4,"cursor":3}' >"$corpus/frame_codec/json-hello"
printf '\x02{"type":"command","key":"k-1","command":{"edit_draft":{"thread":"t-1","base_version":0,"text":"Halo kak 👋"}}}' \
    >"$corpus/frame_codec/json-command"
printf '\x02{"type":"command","key":"k-2","command":{"claim":{"thread":"t-1"}}}' \
    >"$corpus/frame_codec/json-claim"
printf '\x03{"type":"answer","key":"k-1","answer":{"applied":{"seq":7}}}' \
    >"$corpus/frame_codec/json-answer"

# signed_request payloads; the target signs them itself (arbitrary's enum tag comes
# first, so a leading 0x01 selects the signed form).
printf '\x01{"algorithm":"HMAC-SHA256","issued_at":1700000000,"user_id":"1234567890"}' \
    >"$corpus/signed_request/signed-user"
printf '\x01{"algorithm":"HMAC-SHA256","user_id":12345}' >"$corpus/signed_request/numeric-user"
printf '\x00abc.eyJ1c2VyX2lkIjoiMSJ9' >"$corpus/signed_request/raw"

# An evidence export of five events (kept equal to the audit unit test's log).
cp "$root"/tests/fixtures/audit/export.jsonl "$corpus/audit_export/"

for t in "$corpus"/*; do
    echo "$(basename "$t"): $(find "$t" -type f | wc -l) seeds"
done
