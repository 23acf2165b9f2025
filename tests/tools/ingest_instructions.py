#!/usr/bin/env python3
"""Instructions per webhook of a relay binary, counted by callgrind: an A/B measure that a
noisy machine does not move (the same binary and inputs give the same count within ~1 %).

    tests/tools/ingest_instructions.py RELAY_BIN OUT_FILE WEBHOOKS [CONNECTIONS]

Starts `RELAY_BIN serve` under `valgrind --tool=callgrind` on a fresh data directory,
provisions one Instagram channel, posts 200 signed webhooks to warm up, zeroes the counters,
posts WEBHOOKS more from CONNECTIONS keep-alive connections (default 4), dumps the counters
to OUT_FILE.1 and prints the instructions per webhook. Read OUT_FILE.1 with
`callgrind_annotate --inclusive=yes`. With WRAP="cmd args" the relay runs under that
command instead of callgrind (e.g. WRAP="strace -f -c -o FILE") and only the time is printed.
"""
import hashlib, hmac, http.client, json, os, re, subprocess, sys, tempfile, threading, time
relay, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
conns = int(sys.argv[4]) if len(sys.argv) > 4 else 4
ACC = "17841400000000001"; SECRET = b"bench-app-secret"; OP = "bench-operator-token-0123456789"
data = tempfile.mkdtemp(prefix="cg-")
env = dict(os.environ, RELAY_LISTEN="127.0.0.1:0", RELAY_DATA_DIR=data, RELAY_OPERATOR_TOKEN=OP,
           RELAY_MASTER_KEY="BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", META_APP_ID="1234567890",
           META_APP_SECRET=SECRET.decode(), META_VERIFY_TOKEN="v", RUST_LOG="warn")
env.update(dict(kv.split("=", 1) for kv in os.environ.get("EXTRA_ENV", "").split() if kv))
WRAP = os.environ.get("WRAP")
cmd = (WRAP.split() + [relay, "serve"]) if WRAP else ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", relay, "serve"]
p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
port = None
for line in p.stdout:
    m = re.search(r"relay listening on \S*?:(\d+)", line)
    if m: port = int(m.group(1)); break
threading.Thread(target=lambda: [None for _ in p.stdout], daemon=True).start()
def req(c, method, path, body, headers):
    c.request(method, path, body=body, headers=headers); r = c.getresponse(); return r.status, r.read()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
H = {"authorization": f"Bearer {OP}", "content-type": "application/json"}
_, b = req(c, "POST", "/v1/partners", '{"name":"bench"}', H); partner = json.loads(b)["id"]
_, b = req(c, "POST", f"/v1/partners/{partner}/tenants", '{"name":"t"}', H); tenant = json.loads(b)["id"]
s, b = req(c, "POST", f"/v1/tenants/{tenant}/channels", json.dumps({"kind": "instagram", "account_id": ACC}), H)
assert s == 201, b
def post(conn, tag, i):
    ts = 1750000000000 + i
    body = ('{"object":"instagram","entry":[{"id":"%s","time":%d,"messaging":[{"sender":{"id":"%d"},"recipient":{"id":"%s"},"timestamp":%d,"message":{"mid":"aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAx.%s.%d","text":"Halo kak, ukuran M masih ada? \\ud83d\\ude0a"}}]}]}'
            % (ACC, ts, 990000000000000 + i % 100, ACC, ts, tag, i))
    sig = "sha256=" + hmac.new(SECRET, body.encode(), hashlib.sha256).hexdigest()
    s, b = req(conn, "POST", "/webhooks/instagram", body, {"content-type": "application/json", "x-hub-signature-256": sig})
    assert s == 200, (s, b)
def run(tag, total):
    def worker(k):
        cc = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for i in range(k, total, conns): post(cc, tag, i)
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(conns)]
    [t.start() for t in ts]; [t.join() for t in ts]
run("warm", 200)
WRAP or subprocess.run(["callgrind_control", "-z", str(p.pid)], check=True, capture_output=True)
t0 = time.time(); run("m", n); dt = time.time() - t0

WRAP or subprocess.run(["callgrind_control", "-d", str(p.pid)], check=True, capture_output=True)
time.sleep(1)
c.close(); p.terminate(); p.wait()
if WRAP: print(f"{n} webhooks in {dt:.2f} s"); sys.exit(0)
files = [os.path.basename(out) + ".1"]
tot = 0
for f in files:
    txt = open(os.path.join(os.path.dirname(out) or ".", f)).read()
    m = re.search(r"^totals:\s+(\d+)", txt, re.M) or re.search(r"^summary:\s+(\d+)", txt, re.M)
    if m: tot += int(m.group(1))
print(f"{relay}: {n} webhooks, {tot} Ir collected, {tot/n:,.0f} Ir per webhook ({dt:.1f} s wall); files {files}")
