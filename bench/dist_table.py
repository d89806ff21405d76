#!/usr/bin/env python3
"""Table and JSON for bench/dist.sh: reads the last metrics.jsonl row of each
run (one per line on stdin). Arguments: OUT DEVICE GLOBAL_BATCH."""
import json
import sys

out, device, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(line) for line in sys.stdin if line.strip()]
base = rows[0]["samples_per_sec"]
print(f"Data-parallel scaling ({device}, global batch {batch}, last epoch of each run)")
head = ("workers", "batch/worker", "samples/s", "speed-up", "all-reduce s", "share", "calls/step")
print("%8s %13s %10s %9s %13s %6s %11s" % head)
res = []
for r in rows:
    n = r.get("world_size") or 1
    ar = r.get("allreduce_seconds", 0.0)
    calls = r.get("allreduce_calls", 0)
    steps = max(1, round(r["samples_per_sec"] * r["seconds"] / batch))
    share = ar / r["seconds"] if r["seconds"] else 0.0
    print("%8d %13d %10.1f %8.2fx %13.2f %5.1f%% %11.1f" % (
        n, batch // n, r["samples_per_sec"], r["samples_per_sec"] / base, ar, 100 * share, calls / steps))
    res.append({"workers": n, "batch_per_worker": batch // n, "samples_per_s": r["samples_per_sec"],
                "epoch_seconds": r["seconds"], "allreduce_seconds": ar, "allreduce_calls": calls,
                "speedup": r["samples_per_sec"] / base})
with open(out, "w") as f:
    json.dump({"device": device, "global_batch": batch, "runs": res}, f, indent=1)
print(f"wrote {out}")
