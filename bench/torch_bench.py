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
import re
import shutil
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


def synth_batch(torch, n, seed, h=64, w=44):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, h, w, generator=g)
    ages = torch.randint(0, 100, (n,), generator=g).tolist()
    genders = torch.randint(0, 2, (n,), generator=g).tolist()
    return x, ages, genders


def sync(torch, a):
    """Wait for the GPU's queued work before a clock is read (no-op on CPU)."""
    if a.device != "cpu":
        torch.cuda.synchronize(a.device)


def make_trainer(torch, glcnn, a):
    model = glcnn.build_model(a.height, a.width, 100, 0.5, seed=1).train()
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
    return {"side": "pytorch", "mode": a.mode, "height": a.height, "width": a.width, "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "mkldnn": torch.backends.mkldnn.enabled, "channels_last": a.channels_last, "device": a.device}


def bench_train(a):
    torch, glcnn = setup(a)
    step = make_trainer(torch, glcnn, a)
    x, ages, genders = synth_batch(torch, a.batch, 1, a.height, a.width)
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
    x, ages, genders = synth_batch(torch, a.batch, 2, a.height, a.width)
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
    model = glcnn.build_model(a.height, a.width, 100, 0.5, seed=1).eval()
    cl = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(device=a.device, memory_format=cl)
    x, _, _ = synth_batch(torch, a.batch, 3, a.height, a.width)
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


def since_exec_ms():
    """Milliseconds from this process's exec to now: /proc/self/stat's start
    time (clock ticks since boot, 10 ms at USER_HZ=100) against
    CLOCK_BOOTTIME, as gaitord's GAITORD_TRACE does (internal/trace)."""
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return 1000 * (time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / 100)


def predict(a):
    """Minimal single-GEI predict: import torch, build, load, PIL read, forward,
    print. With --trace, the phases go to stderr in GAITORD_TRACE's format."""
    marks, last = [], [time.perf_counter()]
    start = since_exec_ms()  # exec → this line: the interpreter's start and this script's imports

    def mark(phase):
        now = time.perf_counter()
        marks.append((phase, 1000 * (now - last[0])))
        last[0] = now
    import torch
    mark("import torch")
    torch.set_num_threads(a.threads)
    sys.path.insert(0, os.path.join(ROOT, "tests", "pyref"))
    import glcnn
    import numpy as np
    from PIL import Image
    mark("import glcnn, PIL")
    model, meta = glcnn.model_from_weights(a.weights)
    mark("read + build model")
    img = np.asarray(Image.open(a.png).convert("L"), dtype=np.float32) / 255.0
    mark("decode inputs")
    with torch.no_grad():
        za, zg = model(torch.from_numpy(img).reshape(1, 1, *img.shape))
        age = float(glcnn.decode_age(za)[0])
        pm = float(torch.softmax(zg, 1)[0, 1])
    mark("forward")
    print(f"{a.png}\t{age:.1f}\t{pm:.2f}", flush=True)
    mark("print")
    if a.trace:
        at = start
        print(f"pytorch trace: {'exec→script':<22} {start:7.1f} ms  (±10 ms: /proc start time)", file=sys.stderr)
        for phase, ms in marks:
            at += ms
            print(f"pytorch trace: {phase:<22} {ms:7.1f} ms  ({at:7.1f} ms since exec)", file=sys.stderr)
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


def timed(cmd, env=None):
    s = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    d = time.perf_counter() - s
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return d, p.stdout.strip(), p.stderr


TRACE_LINE = re.compile(r"^(gaitord|pytorch) trace: (.+?) +([0-9.]+) ms  \(")


def trace_phases(stderr, who):
    """The phases of a GAITORD_TRACE (who="gaitord") or --trace ("pytorch")
    run, in order: [(phase, ms), …]."""
    out = []
    for line in stderr.splitlines():
        m = TRACE_LINE.match(line)
        if m and m.group(1) == who:
            out.append((m.group(2), float(m.group(3))))
    return out


def cpu_isa():
    """The instruction sets that decide oneDNN's kernels (and int8's gain):
    from /proc/cpuinfo's flags of the first CPU."""
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    names = [("AVX2", "avx2"), ("FMA", "fma"), ("AVX-512F", "avx512f"), ("AVX-512 VNNI", "avx512_vnni"),
             ("AVX-VNNI", "avx_vnni"), ("AVX-512 BF16", "avx512_bf16"), ("AMX-BF16", "amx_bf16"), ("AMX-INT8", "amx_int8")]
    return {"model": model, "isa": {n: (f in flags) for n, f in names}}


# The environment that changes both sides' speed, printed in the header:
# libgomp's wait policy (bench/run.sh sets PASSIVE, as gaitord's long
# commands do) and OpenBLAS's kernel choice (OPENBLAS_CORETYPE pins it; on
# the 2026-12-02 host the environment pinned Haswell's AVX2 kernels, which
# halve the matrix-multiply figure against the AVX-512 ones it detects alone).
ENV_SHOWN = ("OMP_WAIT_POLICY", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS")

# Each throughput figure's repeats are split over this many alternating
# rounds of gaitord and PyTorch (both() in orchestrate).
ROUNDS = 3


def round_repeats(reps):
    """How many of reps repeats each alternating round runs: ROUNDS rounds
    (fewer when there are fewer repeats), the first ones one longer."""
    n = min(ROUNDS, reps)
    return [reps // n + (1 if r < reps % n else 0) for r in range(n)]


def merge_runs(runs):
    """One result from several runs of the same figure: lists of per-repeat
    values are concatenated, peak memory is the largest, anything else is the
    first run's."""
    out = dict(runs[0])
    for r in runs[1:]:
        for k, v in r.items():
            if isinstance(v, list) and isinstance(out.get(k), list):
                out[k] = out[k] + v
            elif k in ("hwm_mib", "rss_mib") and isinstance(v, (int, float)):
                out[k] = max(out[k], v)
    out["rounds"] = len(runs)
    return out


def stats(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v), "values": v}


def ort_figure(a, R, d, pyinfer):
    """ONNX Runtime (tools/ort/bench.mjs, 2 threads) on gaitord's fp32 and int8
    ONNX exports of the benchmark's checkpoint, b256, against PyTorch's fp32
    eager (pyinfer(k): its command for k repeats), in ROUNDS alternating
    rounds. The int8 export calibrates as
    `gaitord export --precision int8` does: on the training split the
    checkpoint's stored configuration names (gobench's checkpoint stores the
    defaults: the built-in synthetic set, generated into the cache once).
    Needs the real gaitord binary, node and tools/ort's onnxruntime-node;
    without them the figure is skipped with the reason in the results."""
    ortdir = os.path.join(ROOT, "tools", "ort")
    why = ("no gaitord binary (gobench stand-in)" if a.gaitord.endswith("gobench") else
           "no --checkpoint" if not a.checkpoint else
           "no node" if shutil.which("node") is None else
           "no tools/ort/node_modules/onnxruntime-node (scripts/install_test_deps.sh)"
           if not os.path.isdir(os.path.join(ortdir, "node_modules", "onnxruntime-node")) else "")
    if why:
        print(f"[bench] ort: skipped: {why}", file=sys.stderr, flush=True)
        R["ort"] = {"skipped": why}
        return
    work = os.path.dirname(os.path.abspath(a.checkpoint))
    models = {"fp32": os.path.join(work, "bench-fp32.onnx"), "int8": os.path.join(work, "bench-int8.onnx")}
    for prec, path in models.items():
        print(f"[bench] ort: gaitord export --precision {prec} …", file=sys.stderr, flush=True)
        timed([a.gaitord, "export", "--checkpoint", a.checkpoint, "--format", "onnx", "--precision", prec, "--out", path])
    counts = round_repeats(d["repeats"])
    rounds = len(counts)
    res = {"fp32": [], "int8": [], "pytorch": []}
    for r, k in enumerate(counts):
        for prec, path in models.items():
            print(f"[bench] ort: ONNX Runtime {prec} (round {r + 1}/{rounds}) …", file=sys.stderr, flush=True)
            res[prec].append(run_json(["node", os.path.join(ortdir, "bench.mjs"), path, str(d["batch"]), str(k), "2"]))
        print(f"[bench] ort: pytorch (round {r + 1}/{rounds}) …", file=sys.stderr, flush=True)
        res["pytorch"].append(run_json(pyinfer(k)))
    R["ort"] = {k: merge_runs(v) for k, v in res.items()}


def orchestrate(a):
    py = [sys.executable, os.path.abspath(__file__)]
    go = [a.gobench]
    q = a.quick
    P = {  # parameters per figure
        "train": dict(batch=64, warmup=1 if q else 5, repeats=3 if q else 6, steps=2 if q else 10),
        "infer": dict(batch=256, warmup=1, repeats=3 if q else 6, steps=1),
        # gaitord's int8 network (model.Int8, oneDNN) against PyTorch's fp32 eager
        "infer_int8": dict(batch=256, warmup=1, repeats=3 if q else 6, steps=1),
        # the OULP-Age model (configs/oulp-age.yaml): 4× the work per GEI
        "train128": dict(batch=64, warmup=1, repeats=3 if q else 6, steps=1 if q else 3, height=128, width=88),
        "infer128": dict(batch=256, warmup=1, repeats=3 if q else 6, steps=1, height=128, width=88),
        "mem": dict(batch=a.mem_batch, marks="50,200" if q else "200,2000"),
        "predict_runs": 3 if q else 5,
    }
    figures = ["mm", "train", "infer", "infer_int8", "ort", "train128", "infer128", "data", "predict", "mem"]
    only = a.only.split(",") if a.only else figures
    bad = [f for f in only if f not in figures]
    if bad:
        raise SystemExit(f"--only: unknown figure(s) {bad}; choose from {figures}")
    if a.device != "cpu":
        # A GPU step takes milliseconds: time many, so that launch jitter
        # and the final synchronisation do not dominate (also with --quick).
        P["train"].update(warmup=10, repeats=5, steps=50, device=a.device)
        P["infer"].update(warmup=3, repeats=5, steps=20, device=a.device)
        P["train128"].update(warmup=10, repeats=5, steps=20, device=a.device)
        P["infer128"].update(warmup=3, repeats=5, steps=10, device=a.device)
    R = {"quick": q, "params": P, "machine": dict(nproc=os.cpu_count(), loadavg=os.getloadavg(), **cpu_isa(),
                                                  env={k: os.environ.get(k) for k in ENV_SHOWN}),
         "device": a.device, "figures": only}

    def args(mode, d):
        return ["--mode", mode] + sum(([f"--{k}", str(v)] for k, v in d.items()), [])

    def goargs(mode, d):
        return ["-mode", mode] + sum(([f"-{k}", str(v)] for k, v in d.items()), [])

    def both(name, mode, d, env=None, gd=None):
        """gaitord's and PyTorch's runs of one figure, alternating: the
        repeats are split over ROUNDS rounds (gaitord, then PyTorch, in each),
        so that a drift of the shared machine falls on both sides alike; the
        per-repeat lists are concatenated (merge_runs). gd: gaitord's
        parameters where they differ from d (int8)."""
        counts = round_repeats(d["repeats"]) if d.get("repeats") and "steps" in d else [None]
        rounds = len(counts)
        g, p = [], []
        for r, c in enumerate(counts):
            k = {} if c is None else dict(repeats=c)
            print(f"[bench] {name}: gaitord (round {r + 1}/{rounds}) …", file=sys.stderr, flush=True)
            g.append(run_json(go + goargs(mode, dict(gd or d, **k)), env))
            print(f"[bench] {name}: pytorch (round {r + 1}/{rounds}) …", file=sys.stderr, flush=True)
            p.append(run_json(py + args(mode, dict(d, **k)), env))
        R[name] = {"gaitord": merge_runs(g), "pytorch": merge_runs(p)}

    if "mm" in only:
        both("mm", "mm", dict(n=2048, repeats=5))
    if "train" in only:
        both("train", "train", P["train"])
    if "infer" in only:
        both("infer", "infer", P["infer"])
    if "infer_int8" in only and a.device == "cpu":
        both("infer_int8", "infer", P["infer_int8"], gd=dict(P["infer_int8"], precision="int8"))
    if "ort" in only and a.device == "cpu":
        ort_figure(a, R, P["infer"], lambda k: py + args("infer", dict(P["infer"], repeats=k)))
    if "train128" in only:
        both("train128", "train", P["train128"])
    if "infer128" in only:
        both("infer128", "infer", P["infer128"])
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
    """Single-GEI predict from process start, interleaved: the libtorch floor
    (bench/floor: links gaitord's libraries, does nothing), `python3 -c
    'import torch'`, gaitord predict on the export and on a training
    checkpoint (GAITORD_TRACE=1: its phases), PyTorch's script (--trace)."""
    print("[bench] predict latency …", file=sys.stderr, flush=True)
    png = os.path.join(a.pngs, "00000.png")
    gcmd = [a.gaitord, "predict", "--checkpoint", a.weights, "--threads", "2", png]
    if a.gaitord.endswith("gobench"):
        gcmd = [a.gaitord, "-mode", "predict", "-weights", a.weights, png]
    cmds = {"gaitord": gcmd, "pytorch": py + ["--mode", "predict", "--weights", a.weights, "--png", png, "--trace"]}
    if a.checkpoint and not a.gaitord.endswith("gobench"):
        cmds["gaitord_ckpt"] = [a.gaitord, "predict", "--checkpoint", a.checkpoint, "--threads", "2", png]
    if a.floor:
        cmds["floor"] = [a.floor]
    cmds["python_import_torch"] = [sys.executable, "-c", "import torch"]
    env = dict(os.environ, GAITORD_TRACE="1")
    for c in cmds.values():
        timed(c, env)  # warm the page cache
    res = {k: {"cmd": c, "seconds": [], "phases": []} for k, c in cmds.items()}
    for _ in range(P["predict_runs"]):
        for k, c in cmds.items():
            d, out, err = timed(c, env)
            res[k]["seconds"].append(d)
            res[k]["stdout"] = out
            who = "pytorch" if k == "pytorch" else "gaitord"
            res[k]["phases"].append(trace_phases(err, who))
    R["predict"] = res


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
    t128, i128 = R.get("train128"), R.get("infer128")
    mach = R.get("machine", {})
    if mach.get("isa") is not None:
        isa = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in mach["isa"].items())
        print(f"CPU: {mach.get('model') or '?'}; {mach.get('nproc')} CPUs; load average at start "
              f"{' '.join(f'{x:.1f}' for x in mach.get('loadavg', []))}")
        print(f"instruction sets: {isa}")
        env = mach.get("env", {})
        print("both sides ran with " + ", ".join(f"{k}={env.get(k) or '(unset)'}" for k in ENV_SHOWN)
              + f"; throughput repeats in {ROUNDS} alternating rounds")
        print()
    if t:
        row(f"train throughput (b64{on})", "samples/s", t["gaitord"]["samples_per_s"], t["pytorch"]["samples_per_s"])
        row(f"train step (b64{on})", "ms", t["gaitord"]["step_ms"], t["pytorch"]["step_ms"], "low")
    if i:
        row(f"inference (b256, no-grad{on})", "GEIs/s", i["gaitord"]["geis_per_s"], i["pytorch"]["geis_per_s"])
    if t128:
        row(f"train throughput (b64, 128×88{on})", "samples/s", t128["gaitord"]["samples_per_s"], t128["pytorch"]["samples_per_s"])
        row(f"train step (b64, 128×88{on})", "ms", t128["gaitord"]["step_ms"], t128["pytorch"]["step_ms"], "low")
    i8 = R.get("infer_int8")
    if i8:
        row("inference int8 (b256; PyTorch fp32 eager)", "GEIs/s", i8["gaitord"]["geis_per_s"], i8["pytorch"]["geis_per_s"])
    o = R.get("ort")
    if o and "skipped" not in o:
        v = o["fp32"].get("ort")
        row(f"ONNX Runtime {v}, gaitord's fp32 export (b256)", "GEIs/s", o["fp32"]["geis_per_s"], o["pytorch"]["geis_per_s"])
        row(f"ONNX Runtime {v}, gaitord's int8 export (b256)", "GEIs/s", o["int8"]["geis_per_s"], o["pytorch"]["geis_per_s"])
    if i128:
        row(f"inference (b256, 128×88, no-grad{on})", "GEIs/s", i128["gaitord"]["geis_per_s"], i128["pytorch"]["geis_per_s"])
    pr = R.get("predict")
    if pr:
        row("predict 1 GEI, process start→print", "s", pr["gaitord"]["seconds"], pr["pytorch"]["seconds"], "low")
        if "gaitord_ckpt" in pr:
            row("  same, gaitord from a training checkpoint", "s", pr["gaitord_ckpt"]["seconds"], pr["pytorch"]["seconds"], "low")
        if "floor" in pr:
            row("  floor: libtorch loaded, nothing run", "s", pr["floor"]["seconds"], pr["python_import_torch"]["seconds"], "low")
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
    if t128:
        fl128 = 3 * t128["gaitord"]["fwd_flops_per_sample"]
        row(f"train achieved, 128×88 (3×fwd FLOPs × samples/s{on})", "GFLOP/s",
            [fl128 * v / 1e9 for v in t128["gaitord"]["samples_per_s"]], [fl128 * v / 1e9 for v in t128["pytorch"]["samples_per_s"]])

    skipped = {k: v["skipped"] for k, v in R.items() if isinstance(v, dict) and "skipped" in v}
    for k, why in skipped.items():
        print(f"{k}: skipped ({why})")
    w = max((len(r[0]) for r in rows), default=len("figure"))
    hdr = f"{'figure':<{w}}  {'unit':<9} {'gaitord median [min–max]':>30} {'PyTorch median [min–max]':>30} {'ratio':>6}"
    print(hdr)
    print("-" * len(hdr))

    def fmt(s):
        f = (lambda v: f"{v:.3g}") if s["median"] < 100 else (lambda v: f"{v:.0f}")
        return f"{f(s['median'])} [{f(s['min'])}–{f(s['max'])}]" if s["n"] > 1 else f(s["median"])
    for name, unit, gs, ps, ratio in rows:
        print(f"{name:<{w}}  {unit:<9} {fmt(gs):>30} {fmt(ps):>30} {ratio:6.2f}")
    if pr:
        startup_breakdown(R, pr, fmt)
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


def startup_breakdown(R, pr, fmt):
    """Per-phase medians [min–max] (ms) of the traced predict runs, gaitord's
    and PyTorch's side by side, and what gaitord adds on top of the floor."""
    def table(key):
        runs = pr[key]["phases"]
        names = [p for p, _ in runs[0]] if runs and runs[0] else []
        return [(n, stats([dict(r).get(n, 0.0) for r in runs])) for n in names]
    print()
    print(f"start-up breakdown, ms, median [min–max] of {len(pr['gaitord']['seconds'])} interleaved runs "
          f"(GAITORD_TRACE=1; PyTorch's script --trace):")
    sides = [("gaitord predict, export", "gaitord"), ("gaitord predict, training checkpoint", "gaitord_ckpt"),
             ("PyTorch script, export", "pytorch")]
    summary = {}
    for title, key in sides:
        if key not in pr:
            continue
        tab = table(key)
        print(f"  {title}:")
        for n, st in tab:
            print(f"    {n:<24} {fmt(st):>24}")
        total = stats([1000 * v for v in pr[key]["seconds"]])
        print(f"    {'wall, exec→exit':<24} {fmt(total):>24}")
        own = [sum(ms for n, ms in run if not n.startswith("exec→")) for run in pr[key]["phases"]]
        summary[key] = {"phases": {n: st for n, st in tab}, "wall_ms": total, "after_init_ms": stats(own)}
    if "floor" in pr:
        fl = stats([1000 * v for v in pr["floor"]["seconds"]])
        pt = stats([1000 * v for v in pr["python_import_torch"]["seconds"]])
        print(f"  floor, exec→exit: bench/floor (gaitord's libraries, nothing run) {fmt(fl)}; "
              f"python3 -c 'import torch' {fmt(pt)}")
        summary["floor_ms"], summary["python_import_torch_ms"] = fl, pt
        for key in ("gaitord", "gaitord_ckpt"):
            if key in summary:
                above = summary[key]["wall_ms"]["median"] - fl["median"]
                own = summary[key]["after_init_ms"]["median"]
                print(f"  {key}: wall − floor = {above:.0f} ms (medians); gaitord's own phases "
                      f"(go package init → finish) {own:.0f} ms")
    R["startup"] = summary


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
    ap.add_argument("--trace", action="store_true", help="predict: phases to stderr")
    ap.add_argument("--height", type=int, default=64, help="train/mem/infer: input height")
    ap.add_argument("--width", type=int, default=44, help="train/mem/infer: input width")
    ap.add_argument("--floor", help="orchestrate: the bench/floor binary")
    ap.add_argument("--checkpoint", help="orchestrate: a training checkpoint for gaitord predict")
    ap.add_argument("--device", default="cpu", help="train/infer: cpu, cuda or cuda:N")
    # orchestrate
    ap.add_argument("--gobench")
    ap.add_argument("--gaitord")
    ap.add_argument("--pngs")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--mem-batch", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--only", help="orchestrate: comma-separated figures (mm,train,infer,infer_int8,ort,train128,infer128,data,predict,mem)")
    a = ap.parse_args()
    fn = {"train": bench_train, "mem": bench_mem, "infer": bench_infer, "data": bench_data, "mm": bench_mm,
          "predict": predict, "profile": profile, "orchestrate": orchestrate}[a.mode]
    r = fn(a)
    if r is not None:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
