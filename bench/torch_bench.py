#!/usr/bin/python3
"""PyTorch side of bench/run.sh, and its orchestrator.

Run with Debian's /usr/bin/python3 (torch 1.13). Measurement modes print one
JSON object:  train | mem | infer | data | mm | predict | profile.
`orchestrate` (no torch import) runs these and the Go benchmark alternately,
then prints the table and writes the results JSON; `--only train,infer`
restricts it to those figures.

--device (train, infer, and orchestrate, which passes it to both sides):
"cpu" (default), "cuda" or "cuda:N" puts the model, the optimiser state and
every batch there, and synchronises (torch.cuda.synchronize) before the clock
is read.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def proc_status():
    rss = hwm = 0.0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def setup(a):
    import torch
    if a.device != "cpu" and not torch.cuda.is_available():
        raise SystemExit(f"--device {a.device}: torch {torch.__version__} sees no CUDA GPU")
    torch.set_num_threads(a.threads)
    if a.interop:
        torch.set_num_interop_threads(a.interop)
    torch.backends.mkldnn.enabled = a.mkldnn
    sys.path.insert(0, os.path.join(ROOT, "tests", "pyref"))
    import glcnn
    return torch, glcnn


def synth_batch(torch, n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 64, 44, generator=g)
    ages = torch.randint(0, 100, (n,), generator=g).tolist()
    genders = torch.randint(0, 2, (n,), generator=g).tolist()
    return x, ages, genders


def sync(torch, a):
    """Wait for the GPU's queued work before a clock is read (no-op on CPU)."""
    if a.device != "cpu":
        torch.cuda.synchronize(a.device)


def make_trainer(torch, glcnn, a):
    model = glcnn.build_model(64, 44, 100, 0.5, seed=1).train()
    cl = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(device=a.device, memory_format=cl)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step(x, ages, genders):
        za, zg = model(x.to(a.device).contiguous(memory_format=cl))
        loss = glcnn.losses(za, zg, ages, genders, 0, 1.0, 1.0)["total"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def common(torch, a):
    return {"side": "pytorch", "mode": a.mode, "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "mkldnn": torch.backends.mkldnn.enabled, "channels_last": a.channels_last, "device": a.device}


def bench_train(a):
    torch, glcnn = setup(a)
    step = make_trainer(torch, glcnn, a)
    x, ages, genders = synth_batch(torch, a.batch, 1)
    for _ in range(a.warmup):
        loss = step(x, ages, genders)
    sync(torch, a)
    rates, ms = [], []
    for _ in range(a.repeats):
        s = time.perf_counter()
        for _ in range(a.steps):
            loss = step(x, ages, genders)
        sync(torch, a)
        d = time.perf_counter() - s
        rates.append(a.steps * a.batch / d)
        ms.append(1000 * d / a.steps)
    rss, hwm = proc_status()
    r = common(torch, a)
    r.update(batch=a.batch, samples_per_s=rates, step_ms=ms, rss_mib=rss, hwm_mib=hwm, last_loss=loss)
    return r


def bench_mem(a):
    torch, glcnn = setup(a)
    step = make_trainer(torch, glcnn, a)
    x, ages, genders = synth_batch(torch, a.batch, 2)
    marks = sorted(int(v) for v in a.marks.split(","))
    rss0, _ = proc_status()
    at, s = {}, time.perf_counter()
    for i in range(1, marks[-1] + 1):
        step(x, ages, genders)
        if i in marks:
            at[str(i)] = proc_status()[0]
    r = common(torch, a)
    r.update(batch=a.batch, rss_start_mib=rss0, rss_mib_at_step=at, hwm_mib=proc_status()[1],
             seconds=time.perf_counter() - s)
    return r


def bench_infer(a):
    torch, glcnn = setup(a)
    model = glcnn.build_model(64, 44, 100, 0.5, seed=1).eval()
    cl = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(device=a.device, memory_format=cl)
    x, _, _ = synth_batch(torch, a.batch, 3)
    x = x.contiguous(memory_format=cl)

    def fwd():
        with torch.no_grad():
            za, _ = model(x.to(a.device))
            za.cpu().numpy()
    for _ in range(a.warmup):
        fwd()
    sync(torch, a)
    rates = []
    for _ in range(a.repeats):
        s = time.perf_counter()
        for _ in range(a.steps):
            fwd()
        sync(torch, a)
        rates.append(a.steps * a.batch / (time.perf_counter() - s))
    r = common(torch, a)
    r.update(batch=a.batch, geis_per_s=rates, hwm_mib=proc_status()[1])
    return r


def bench_data(a):
    """PIL decode of the same PNGs, one process, to float32 [0,1] (no Loader)."""
    import numpy as np
    from PIL import Image
    names = sorted(os.path.join(a.dir, n) for n in os.listdir(a.dir) if n.endswith(".png"))
    rates = []
    for e in range(a.epochs + 1):
        s = time.perf_counter()
        for p in names:
            with Image.open(p) as im:
                v = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
        if e:
            rates.append(len(names) / (time.perf_counter() - s))
    return {"side": "pytorch", "mode": "data", "files": len(names), "geis_per_s": rates}


def bench_mm(a):
    import torch
    torch.set_num_threads(a.threads)
    n = a.n
    x, y = torch.rand(n, n) * 2 - 1, torch.rand(n, n) * 2 - 1
    g = []
    for i in range(a.repeats + 2):
        s = time.perf_counter()
        torch.mm(x, y)
        d = time.perf_counter() - s
        if i >= 2:
            g.append(2 * n ** 3 / d / 1e9)
    return {"side": "pytorch", "mode": "mm", "n": n, "gflops": g, "threads": torch.get_num_threads()}


def predict(a):
    """Minimal single-GEI predict: import torch, build, load, PIL read, forward, print."""
    import torch
    torch.set_num_threads(a.threads)
    sys.path.insert(0, os.path.join(ROOT, "tests", "pyref"))
    import glcnn
    import numpy as np
    from PIL import Image
    model, meta = glcnn.model_from_weights(a.weights)
    img = np.asarray(Image.open(a.png).convert("L"), dtype=np.float32) / 255.0
    with torch.no_grad():
        za, zg = model(torch.from_numpy(img).reshape(1, 1, 64, 44))
        age = float(glcnn.decode_age(za)[0])
        pm = float(torch.softmax(zg, 1)[0, 1])
    print(f"{a.png}\t{age:.1f}\t{pm:.2f}")
    return None


def profile(a):
    torch, glcnn = setup(a)
    step = make_trainer(torch, glcnn, a)
    x, ages, genders = synth_batch(torch, a.batch, 1)
    for _ in range(2):
        step(x, ages, genders)
    from torch.profiler import profile as prof, ProfilerActivity
    with prof(activities=[ProfilerActivity.CPU]) as p:
        for _ in range(a.steps):
            step(x, ages, genders)
    print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    return None


# ---------------------------------------------------------------- orchestration

def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def timed(cmd):
    s = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    d = time.perf_counter() - s
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return d, p.stdout.strip()


def stats(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v), "values": v}


def orchestrate(a):
    py = [sys.executable, os.path.abspath(__file__)]
    go = [a.gobench]
    q = a.quick
    P = {  # parameters per figure
        "train": dict(batch=64, warmup=1 if q else 5, repeats=3 if q else 5, steps=2 if q else 10),
        "infer": dict(batch=256, warmup=1, repeats=3 if q else 5, steps=1),
        "mem": dict(batch=a.mem_batch, marks="50,200" if q else "200,2000"),
        "predict_runs": 3 if q else 5,
    }
    figures = ["mm", "train", "infer", "data", "predict", "mem"]
    only = a.only.split(",") if a.only else figures
    bad = [f for f in only if f not in figures]
    if bad:
        raise SystemExit(f"--only: unknown figure(s) {bad}; choose from {figures}")
    if a.device != "cpu":
        # A GPU step takes milliseconds: time many, so that launch jitter
        # and the final synchronisation do not dominate (also with --quick).
        P["train"].update(warmup=10, repeats=5, steps=50, device=a.device)
        P["infer"].update(warmup=3, repeats=5, steps=20, device=a.device)
    R = {"quick": q, "params": P, "machine": {"nproc": os.cpu_count()}, "device": a.device, "figures": only}

    def args(mode, d):
        return ["--mode", mode] + sum(([f"--{k}", str(v)] for k, v in d.items()), [])

    def goargs(mode, d):
        return ["-mode", mode] + sum(([f"-{k}", str(v)] for k, v in d.items()), [])

    def both(name, mode, d, env=None):
        print(f"[bench] {name}: gaitord …", file=sys.stderr, flush=True)
        g = run_json(go + goargs(mode, d), env)
        print(f"[bench] {name}: pytorch …", file=sys.stderr, flush=True)
        p = run_json(py + args(mode, d), env)
        R[name] = {"gaitord": g, "pytorch": p}

    if "mm" in only:
        both("mm", "mm", dict(n=2048, repeats=5))
    if "train" in only:
        both("train", "train", P["train"])
    if "infer" in only:
        both("infer", "infer", P["infer"])
    if "data" in only:
        print("[bench] data pipeline …", file=sys.stderr, flush=True)
        R["data"] = {"gaitord": run_json(go + goargs("data", dict(dir=a.pngs, epochs=2 if q else 3))),
                     "pytorch": run_json(py + args("data", dict(dir=a.pngs, epochs=1 if q else 2)))}
    if "predict" in only:
        predict_latency(a, R, P, py)
    if "mem" in only:
        # The memory run uses OMP_WAIT_POLICY=PASSIVE on both sides: with the default
        # (spinning) OpenMP workers a batch-1 step takes ~1 s here and 2,000 steps
        # would not fit the time budget. It measures growth, not speed.
        R["mem_env"] = {"OMP_WAIT_POLICY": "PASSIVE"}
        both("mem", "mem", P["mem"], dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    report(R)
    with open(a.out, "w") as f:
        json.dump(R, f, indent=1)
    print(f"[bench] wrote {a.out}", file=sys.stderr)


def predict_latency(a, R, P, py):
    print("[bench] predict latency …", file=sys.stderr, flush=True)
    png = os.path.join(a.pngs, "00000.png")
    gcmd = [a.gaitord, "predict", "--checkpoint", a.weights, "--threads", "2", png]
    if a.gaitord.endswith("gobench"):
        gcmd = [a.gaitord, "-mode", "predict", "-weights", a.weights, png]
    pcmd = py + ["--mode", "predict", "--weights", a.weights, "--png", png]
    timed(gcmd), timed(pcmd)  # warm the page cache for both
    gl, pl = [], []
    for _ in range(P["predict_runs"]):
        d, gout = timed(gcmd)
        gl.append(d)
        d, pout = timed(pcmd)
        pl.append(d)
    R["predict"] = {"gaitord": {"cmd": gcmd, "seconds": gl, "stdout": gout},
                    "pytorch": {"cmd": pcmd, "seconds": pl, "stdout": pout}}


def report(R):
    rows = []

    def row(name, unit, g, p, better="high"):
        gs, ps = stats(g), stats(p)
        rows.append((name, unit, gs, ps, gs["median"] / ps["median"]))
        R.setdefault("table", []).append({"figure": name, "unit": unit, "gaitord": gs, "pytorch": ps,
                                          "ratio_gaitord_over_pytorch": gs["median"] / ps["median"],
                                          "better": better})

    dev = R.get("device", "cpu")
    on = "" if dev == "cpu" else f", {dev}"
    t, i, m, d, mm = (R.get(k) for k in ("train", "infer", "mem", "data", "mm"))
    if t:
        row(f"train throughput (b64{on})", "samples/s", t["gaitord"]["samples_per_s"], t["pytorch"]["samples_per_s"])
        row(f"train step (b64{on})", "ms", t["gaitord"]["step_ms"], t["pytorch"]["step_ms"], "low")
    if i:
        row(f"inference (b256, no-grad{on})", "GEIs/s", i["gaitord"]["geis_per_s"], i["pytorch"]["geis_per_s"])
    if "predict" in R:
        row("predict 1 GEI, process start→print", "s", R["predict"]["gaitord"]["seconds"],
            R["predict"]["pytorch"]["seconds"], "low")
    if t:
        row(f"peak RSS, train b64 run{on}", "MiB", [t["gaitord"]["hwm_mib"]], [t["pytorch"]["hwm_mib"]], "low")
    if m:
        for k in sorted(m["gaitord"]["rss_mib_at_step"], key=int):
            row(f"RSS after {k} steps (b{m['gaitord']['batch']})", "MiB", [m["gaitord"]["rss_mib_at_step"][k]],
                [m["pytorch"]["rss_mib_at_step"][k]], "low")
        row(f"peak RSS, mem run (b{m['gaitord']['batch']})", "MiB", [m["gaitord"]["hwm_mib"]],
            [m["pytorch"]["hwm_mib"]], "low")
    if d:
        row("data: PNG→float32 (gaitord Loader+gei.Load vs PIL 1 proc)", "GEIs/s", d["gaitord"]["geis_per_s"],
            d["pytorch"]["geis_per_s"])
    if mm:
        row("libtorch mm 2048² fp32", "GFLOP/s", mm["gaitord"]["gflops"], mm["pytorch"]["gflops"])
    if t:
        fl = 3 * t["gaitord"]["fwd_flops_per_sample"]
        row(f"train achieved (3×fwd FLOPs × samples/s{on})", "GFLOP/s",
            [fl * v / 1e9 for v in t["gaitord"]["samples_per_s"]], [fl * v / 1e9 for v in t["pytorch"]["samples_per_s"]])

    w = max(len(r[0]) for r in rows)
    hdr = f"{'figure':<{w}}  {'unit':<9} {'gaitord median [min–max]':>30} {'PyTorch median [min–max]':>30} {'ratio':>6}"
    print(hdr)
    print("-" * len(hdr))

    def fmt(s):
        f = (lambda v: f"{v:.3g}") if s["median"] < 100 else (lambda v: f"{v:.0f}")
        return f"{f(s['median'])} [{f(s['min'])}–{f(s['max'])}]" if s["n"] > 1 else f(s["median"])
    for name, unit, gs, ps, ratio in rows:
        print(f"{name:<{w}}  {unit:<9} {fmt(gs):>30} {fmt(ps):>30} {ratio:6.2f}")
    if not (t and i and d and mm):
        return
    peak = statistics.median(mm["pytorch"]["gflops"])
    gt, pt = stats(R["train"]["gaitord"]["samples_per_s"])["median"], stats(R["train"]["pytorch"]["samples_per_s"])["median"]
    dg = stats(d["gaitord"]["geis_per_s"])["median"]
    extra = {
        "train_fraction_of_mm_peak": {"gaitord": fl * gt / 1e9 / peak, "pytorch": fl * pt / 1e9 / peak},
        "data_pipeline_headroom_over_train": dg / gt,
        "gaitord_gc_ms_per_step": R["train"]["gaitord"].get("gc_ms_per_step"),
        "gaitord_infer_batch_geis_per_s": stats(i["gaitord"]["infer_batch_geis_per_s"])["median"],
        "gaitord_single_goroutine_gei_load_per_s": d["gaitord"]["single_goroutine_geis_per_s"],
    }
    R["derived"] = extra
    print()
    print(f"train FLOP/s as fraction of mm peak ({peak:.1f} GFLOP/s): gaitord {extra['train_fraction_of_mm_peak']['gaitord']:.1%}, "
          f"PyTorch {extra['train_fraction_of_mm_peak']['pytorch']:.1%}")
    print(f"data pipeline {dg:.0f} GEIs/s = {extra['data_pipeline_headroom_over_train']:.0f}× the b64 training consumption ({gt:.1f} samples/s); "
          f"1 goroutine gei.Load {extra['gaitord_single_goroutine_gei_load_per_s']:.0f}/s")
    print(f"gaitord torch.GC() per step: {extra['gaitord_gc_ms_per_step']:.1f} ms; infer.Batch (product path) "
          f"{extra['gaitord_infer_batch_geis_per_s']:.1f} GEIs/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--interop", type=int, default=0)
    ap.add_argument("--mkldnn", type=lambda s: s.lower() in ("1", "true", "yes"), default=True)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--marks", default="200,2000")
    ap.add_argument("--n", type=int, default=2048)
    ap.add_argument("--dir")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--weights")
    ap.add_argument("--png")
    ap.add_argument("--device", default="cpu", help="train/infer: cpu, cuda or cuda:N")
    # orchestrate
    ap.add_argument("--gobench")
    ap.add_argument("--gaitord")
    ap.add_argument("--pngs")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--mem-batch", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--only", help="orchestrate: comma-separated figures (mm,train,infer,data,predict,mem)")
    a = ap.parse_args()
    fn = {"train": bench_train, "mem": bench_mem, "infer": bench_infer, "data": bench_data, "mm": bench_mm,
          "predict": predict, "profile": profile, "orchestrate": orchestrate}[a.mode]
    r = fn(a)
    if r is not None:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
