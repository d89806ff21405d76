#!/usr/bin/python3
"""int8 inference lever (issue 16), measured in PyTorch before anything is built in gaitord.

Run with Debian's /usr/bin/python3 (torch 1.13); bench/int8.sh makes the model and runs this.

What it does, for a trained gaitord model exported as safetensors
(`gaitord export --format safetensors`, loaded into tests/pyref/glcnn.py's GEINet):

1. Post-training static quantization with FX graph mode (prepare_fx / convert_fx,
   torch.ao.quantization), once per quantized engine this torch build lists
   (Debian's: onednn and qnnpack; it has no fbgemm/x86), with that engine's default
   qconfig mapping: per-channel symmetric int8 weights, uint8 activations observed by
   a HistogramObserver (or MinMaxObserver with --observer minmax). Calibration runs
   the observed model over --calib training GEIs (odd subject IDs, OU-MVLP's rule the
   synthetic set follows), picked with a fixed seed.
   GEINet's PartConv2d shares one conv over three strips; FX's convert gives a module
   one output scale, so the traceable copy below gives each strip its own copy of the
   shared conv (same weights, its own observer). "heads fp32" variants leave the two
   output layers (linear_age, linear_gender) unquantized: the age is a sum of 100
   sigmoids of linear_age's logits, so its output rounding goes straight into the age.
2. MAE of the decoded age (min_age + sum_k sigmoid(z_k)) on the test split (even IDs,
   every view) for fp32 and each int8 variant, and the change against fp32.
3. Throughput at --batch (256) on real test GEIs: fp32 eager under torch.no_grad()
   and each int8 variant, interleaved (one timed repeat of each in turn, --repeats
   times, each repeat --steps forwards after --warmup), --threads intra-op threads.
   The figures are medians with ranges; on a shared machine only the ratios
   (median of the per-repeat int8/fp32 ratios) mean anything.

The CPU's instruction sets that int8 kernels depend on (AVX2, AVX-512 VNNI, AVX-VNNI,
AMX) are printed from /proc/cpuinfo beside the figures.

    /usr/bin/python3 bench/int8.py --weights W.safetensors --data data/synth [--json out.json]
"""

import argparse
import copy
import csv
import json
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "pyref"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

import glcnn  # noqa: E402

CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def cpu_flags():
    """The int8-relevant flags of the first CPU in /proc/cpuinfo: name -> present."""
    have = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return {f: f in have for f in CPU_FLAGS}


class Traceable(nn.Module):
    """GEINet's eval-mode forward (odl/ranking age head), written so that FX can trace it:
    the strip bounds are constants of the input size, each strip has its own copy of the
    part layer's shared conv, and dropout (identity in eval) is left out."""

    def __init__(self, net):
        super().__init__()
        if net.loss_type not in ("odl", "ranking"):
            raise SystemExit(f"loss type {net.loss_type}: this bench covers odl/ranking models")
        self.gl_conv1, self.gl_conv2, self.conv = net.gl_conv1, net.gl_conv2, net.conv
        self.b1 = glcnn.strip_bounds(net.input_h)
        self.b2 = glcnn.strip_bounds(net.input_h // 2)
        self.lc1 = nn.ModuleList([copy.deepcopy(net.lc_conv1.conv) for _ in self.b1])
        self.lc2 = nn.ModuleList([copy.deepcopy(net.lc_conv2.conv) for _ in self.b2])
        self.linear_layer1, self.linear_layer2 = net.linear_layer1, net.linear_layer2
        self.linear_age, self.linear_gender = net.linear_age, net.linear_gender

    def forward(self, x):
        g = self.gl_conv2(self.gl_conv1(x))
        l1 = torch.cat([m(x[:, :, a:b, :]) for m, (a, b) in zip(self.lc1, self.b1)], 2)
        l2 = torch.cat([m(l1[:, :, a:b, :]) for m, (a, b) in zip(self.lc2, self.b2)], 2)
        x = self.conv(torch.cat([g, l2], 1))
        x = torch.flatten(x, 1)
        x = F.leaky_relu(self.linear_layer1(x), glcnn.NEG_SLOPE)
        x = F.leaky_relu(self.linear_layer2(x), glcnn.NEG_SLOPE)
        return self.linear_age(x), self.linear_gender(x)


def qparams(lo, hi):
    """uint8 affine parameters covering [min(lo, 0), max(hi, 0)] (zero exactly representable)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / 255, 1e-8)
    return scale, int(min(255, max(0, round(-lo / scale))))


class GaitordInt8(nn.Module):
    """gaitord's own int8 scheme (internal/model's Int8), written with the quantized ops
    directly: the input quantized with scale 1/255 (exact for 8-bit GEIs); every conv
    with per-channel symmetric int8 weights (scale max|w_c|/127) and its output in
    uint8 with min/max-calibrated parameters [lo, hi] of the conv's output before the
    activation (one range over a part layer's three strips); quantized leaky_relu then
    requantizes to [slope*lo, hi], the range of its own output, and max-pool keeps
    those parameters (one range of 256 steps spent on negatives the activation divides
    by 100 cost 4x the error in the MAE check); the global and local branches
    requantized to the union of their ranges by quantized::cat; the hidden linear
    layers int8 the same way; the two heads fp32 on the dequantized features."""

    def __init__(self, fp, calib):
        super().__init__()
        self.fp = fp
        ranges = {}

        def track(key, t):
            lo, hi = ranges.get(key, (0.0, 0.0))
            ranges[key] = (min(lo, t.min().item()), max(hi, t.max().item()))
        with torch.no_grad():
            for i in range(0, len(calib), 64):
                self._fp32(calib[i:i + 64], track)
        self.q = {k: qparams(*v) for k, v in ranges.items()}
        self.qa = {k: qparams(glcnn.NEG_SLOPE * lo, hi) for k, (lo, hi) in ranges.items()}

        def pack_conv(conv):
            w = conv.weight.detach()
            s = (w.abs().amax((1, 2, 3)) / 127).clamp_min(1e-12).double()
            wq = torch.quantize_per_channel(w, s, torch.zeros(len(s), dtype=torch.long), 0, torch.qint8)
            return torch.ops.quantized.conv2d_prepack(wq, conv.bias.detach(), [1, 1], list(conv.padding), [1, 1], 1)

        def pack_linear(lin):
            w = lin.weight.detach()
            s = (w.abs().amax(1) / 127).clamp_min(1e-12).double()
            wq = torch.quantize_per_channel(w, s, torch.zeros(len(s), dtype=torch.long), 0, torch.qint8)
            return torch.ops.quantized.linear_prepack(wq, lin.bias.detach())
        self.packed = {"gl1": pack_conv(fp.gl_conv1.conv), "gl2": pack_conv(fp.gl_conv2.conv),
                       "lc1": pack_conv(fp.lc1[0][0]), "lc2": pack_conv(fp.lc2[0][0]),
                       "fuse": pack_conv(fp.conv.conv),
                       "h1": pack_linear(fp.linear_layer1), "h2": pack_linear(fp.linear_layer2)}

    def _fp32(self, x, track):
        fp = self.fp

        def block(key, conv, x):
            y = conv(x)
            track(key, y)
            return F.max_pool2d(F.leaky_relu(y, glcnn.NEG_SLOPE), 2, 2)
        g = block("gl2", fp.gl_conv2.conv, block("gl1", fp.gl_conv1.conv, x))
        l1 = torch.cat([block("lc1", m[0], x[:, :, a:b, :]) for m, (a, b) in zip(fp.lc1, fp.b1)], 2)
        l2 = torch.cat([block("lc2", m[0], l1[:, :, a:b, :]) for m, (a, b) in zip(fp.lc2, fp.b2)], 2)
        f = torch.flatten(block("fuse", fp.conv.conv, torch.cat([g, l2], 1)), 1)
        for key, lin in (("h1", fp.linear_layer1), ("h2", fp.linear_layer2)):
            f = lin(f)
            track(key, f)
            f = F.leaky_relu(f, glcnn.NEG_SLOPE)

    def forward(self, x):
        fp, q, qa, p = self.fp, self.q, self.qa, self.packed

        def block(key, x):
            s, z = q[key]
            y = torch.ops.quantized.conv2d(x, p[key], s, z)
            return F.max_pool2d(torch.ops.quantized.leaky_relu(y, glcnn.NEG_SLOPE, False, *qa[key]), 2, 2)
        xq = torch.quantize_per_tensor(x, 1 / 255, 0, torch.quint8)
        g = block("gl2", block("gl1", xq))
        l1 = torch.cat([block("lc1", xq[:, :, a:b, :]) for a, b in fp.b1], 2)
        l2 = torch.cat([block("lc2", l1[:, :, a:b, :]) for a, b in fp.b2], 2)
        (sg, zg), (sl, zl) = qa["gl2"], qa["lc2"]
        lo = min(-zg * sg, -zl * sl)
        hi = max((255 - zg) * sg, (255 - zl) * sl)
        s, z = qparams(lo, hi)
        f = torch.flatten(block("fuse", torch.ops.quantized.cat([g, l2], 1, s, z)), 1)
        for key in ("h1", "h2"):
            s, z = q[key]
            f = torch.ops.quantized.linear(f, p[key], s, z)
            f = torch.ops.quantized.leaky_relu(f, glcnn.NEG_SLOPE, False, *qa[key])
        f = f.dequantize()
        return fp.linear_age(f), fp.linear_gender(f)


def load_split(root, h, w):
    """(train, test) as (x [N,1,h,w] float32, ages, genders) from a gaitord synthetic
    dataset folder: labels.csv (ID,gender,age) and GEI/<view>-<seq>/<id>.png, 8-bit gray
    of exactly h x w (gaitord's Preprocess is then v/255, pixel for pixel)."""
    labels = {}
    with open(os.path.join(root, "labels.csv")) as f:
        for row in csv.DictReader(f):
            labels[int(row["ID"])] = (int(row["age"]), 1 if row["gender"] == "M" else 0)  # index 1 = male
    split = {0: ([], [], []), 1: ([], [], [])}
    gdir = os.path.join(root, "GEI")
    for seq in sorted(os.listdir(gdir)):
        for name in sorted(os.listdir(os.path.join(gdir, seq))):
            sid = int(os.path.splitext(name)[0])
            img = np.asarray(Image.open(os.path.join(gdir, seq, name)))
            if img.dtype != np.uint8 or img.shape != (h, w):
                raise SystemExit(f"{seq}/{name}: {img.dtype} {img.shape}, want uint8 {(h, w)}")
            xs, ages, genders = split[sid % 2]
            xs.append(img.astype(np.float32) / 255)
            ages.append(labels[sid][0])
            genders.append(labels[sid][1])
    out = []
    for odd in (1, 0):  # train: odd IDs; test: even IDs
        xs, ages, genders = split[odd]
        out.append((torch.from_numpy(np.stack(xs))[:, None], ages, genders))
    return out


def quantize(model, engine, calib, heads_fp32, observer):
    """FX post-training static quantization of a Traceable under engine."""
    from torch.ao.quantization import QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = engine
    qmap = get_default_qconfig_mapping(engine)
    if observer == "minmax":
        qmap.set_global(QConfig(
            activation=MinMaxObserver.with_args(dtype=torch.quint8),
            weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)))
    if heads_fp32:
        qmap.set_module_name("linear_age", None).set_module_name("linear_gender", None)
    m = copy.deepcopy(model).eval()
    example = (calib[:2],)
    prepared = prepare_fx(m, qmap, example)
    with torch.no_grad():
        for i in range(0, len(calib), 64):
            prepared(calib[i:i + 64])
    return convert_fx(prepared)


def run_model(model, x, engine, batch=256):
    if engine:
        torch.backends.quantized.engine = engine
    za, zg = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            a, g = model(x[i:i + batch])
            za.append(a.float())
            zg.append(g.float())
    return torch.cat(za), torch.cat(zg)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="a gaitord safetensors export (odl or ranking)")
    ap.add_argument("--data", required=True, help="the synthetic dataset folder the model was trained on")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=2, help="forwards per timed repeat")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--calib", type=int, default=512, help="training GEIs for calibration")
    ap.add_argument("--observer", choices=("histogram", "minmax"), default="histogram")
    ap.add_argument("--engines", default=",".join(e for e in ("onednn", "x86", "fbgemm", "qnnpack")
                                                    if e in torch.backends.quantized.supported_engines))
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)

    net, meta = glcnn.model_from_weights(a.weights)
    min_age = float(meta.get("min_age", 0))
    (xtr, _, _), (xte, ate, gte) = load_split(a.data, net.input_h, net.input_w)
    fp32 = Traceable(net).eval()
    g = torch.Generator().manual_seed(1)
    calib = xtr[torch.randperm(len(xtr), generator=g)[:a.calib]]

    flags = cpu_flags()
    print(f"torch {torch.__version__}, engines {torch.backends.quantized.supported_engines}, "
          f"{a.threads} threads, batch {a.batch}, {net.input_h}x{net.input_w}")
    print("CPU: " + "  ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items()))

    # Accuracy: the reference GEINet itself for fp32, then each int8 variant.
    variants = [("fp32 eager", fp32, None)]
    for eng in [e for e in a.engines.split(",") if e]:
        for heads in ((False, True) if eng == "onednn" else (False,)):
            name = f"int8 {eng}" + (" (heads fp32)" if heads else "")
            variants.append((name, quantize(fp32, eng, calib, heads, a.observer), eng))
    if "onednn" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "onednn"
        variants.append(("int8 onednn, gaitord scheme", GaitordInt8(fp32, calib).eval(), "onednn"))
    ages_t = torch.tensor(ate, dtype=torch.float64)
    with torch.no_grad():
        ref_a, ref_g = net(xte)
    ref_age = glcnn.decode_age(ref_a, min_age)
    res = {"torch": torch.__version__, "threads": a.threads, "batch": a.batch, "cpu_flags": flags,
           "calib": a.calib, "observer": a.observer, "test_geis": len(xte), "variants": {}}
    print(f"test split: {len(xte)} GEIs; calibration: {len(calib)} training GEIs, {a.observer} observer")
    for name, m, eng in variants:
        za, zg = run_model(m, xte, eng, a.batch)
        age = glcnn.decode_age(za, min_age)
        mae = (age - ages_t).abs().mean().item()
        gacc = (zg.argmax(1) == torch.tensor(gte)).double().mean().item()
        dev = (age - ref_age).abs()
        res["variants"][name] = {"mae": mae, "gender_acc": gacc, "max_age_diff_vs_fp32": dev.max().item(),
                                 "mean_age_diff_vs_fp32": dev.mean().item()}
        print(f"{name:28s} test MAE {mae:.4f}  gender acc {gacc:.4f}  |age - fp32 age| mean {dev.mean():.4f} "
              f"max {dev.max():.4f}")
    base = res["variants"]["fp32 eager"]["mae"]
    for name in res["variants"]:
        res["variants"][name]["mae_change"] = res["variants"][name]["mae"] - base

    # Speed, interleaved.
    x = xte[:a.batch] if len(xte) >= a.batch else xte.repeat(a.batch // len(xte) + 1, 1, 1, 1)[:a.batch]
    x = x.contiguous()

    def fwd(m, eng):
        if eng:
            torch.backends.quantized.engine = eng
        with torch.no_grad():
            za, _ = m(x)
            za.float().numpy()
    for name, m, eng in variants:
        for _ in range(a.warmup):
            fwd(m, eng)
    rates = {name: [] for name, _, _ in variants}
    for _ in range(a.repeats):
        for name, m, eng in variants:
            s = time.perf_counter()
            for _ in range(a.steps):
                fwd(m, eng)
            rates[name].append(a.steps * a.batch / (time.perf_counter() - s))
    base = rates["fp32 eager"]
    print(f"throughput at b{a.batch}, medians of {a.repeats} interleaved repeats of {a.steps} forwards "
          f"(GEIs/s [range]; ratio = median of per-repeat ratios to fp32 eager)")
    for name, _, _ in variants:
        r = rates[name]
        ratio = statistics.median(v / b for v, b in zip(r, base))
        res["variants"][name].update(geis_per_s=r, ratio_vs_fp32=ratio)
        v = res["variants"][name]
        print(f"{name:28s} {statistics.median(r):8.1f} GEIs/s [{min(r):.1f}-{max(r):.1f}]  {ratio:5.2f}x fp32  "
              f"MAE change {v['mae_change']:+.4f}")
    print("CPU: " + "  ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items()))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
