#!/usr/bin/env python3
"""Prototypes of the fp32 CPU levers of issue 16 (bench only), PyTorch side.

Each variant computes the GL-CNN forward (tests/pyref/glcnn.py weights) with
the op sequence a gaitord lever would run; the variants alternate within
each repeat (interleaved A/B) and the medians are compared.
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/fp32_levers.py infer [--batch 256] [--input 64x44] [--repeats 7]
        eager no_grad; gaitord's strided layouts (torchx level 2); oneDNN
        tensors from conv through pool (level 3) with weights reordered per
        call or prepacked once (mkldnn_reorder_conv2d_weight); level 3 with
        the part strips stacked into one convolution; torch.jit.freeze and
        optimize_for_inference as the upper bound of what libtorch offers.
    ... infer-pack [--input 64x44]   prepacked vs per-call weights at b1, b16, b256
    ... part [--batch 64]            part convolutions, forward + backward: three
        strip convs vs one conv over the strips stacked with 2·pad zero rows
        between them (the same values: zero padding at every strip edge)
    ... train-blocks [--batch 64]    training levers of torchx level 4, forward +
        backward of one block each: the multi-channel convolutions (gl_conv2,
        lc_conv2's largest strip, the fusing conv) on the strided path
        (level 3) against channels-last convolutions (level 4), and lc_conv2's
        part block with its strips narrowed (level 3) or split at once (level 4)
    ... train-other [--batch 64]     training levers not kept: the 5120 → 1024
        layer (forward + backward) by OpenBLAS (F.linear), as a convolution
        over the fused map, and as mkldnn_linear; PyTorch's eager training
        step with and without torch.set_flush_denormal(True)
Every variant is checked against eager first (max |difference| printed).
"""
import argparse
import os
import statistics as st
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "pyref"))
import glcnn  # noqa: E402

S = glcnn.NEG_SLOPE
_strips = glcnn.strip_bounds
glcnn.strip_bounds = lambda h: _strips(int(h))  # traceable (jit.trace passes the height as a tensor)


def cl1(t):
    """Channels-last view of a one-channel tensor, as torchx.channels_last."""
    t = t.contiguous()
    return t.as_strided(t.size(), (t.stride(0), 1, t.stride(2), 1))


def pad2(p):
    return list(p) if isinstance(p, (tuple, list)) else [p, p]


def block_strided(x, w, b, p):
    """torchx level 2: channels-last first conv, channels-last pool, leaky_relu after it."""
    y = F.conv2d(cl1(x), cl1(w), b, 1, p) if x.size(1) == 1 else F.conv2d(x, w, b, 1, p)
    y = y.contiguous(memory_format=torch.channels_last)
    return F.leaky_relu(F.max_pool2d(y, 2, 2), S).contiguous()


PACKED = {}


def block_onednn(x, w, b, p, packed=False):
    """torchx level 3: MKLDNN input, blocked conv output, pool on it, dense after the pool."""
    if packed:
        key = (id(w), tuple(pad2(p)))
        if key not in PACKED:
            PACKED[key] = torch._C._nn.mkldnn_reorder_conv2d_weight(w.to_mkldnn(), pad2(p), [1, 1], [1, 1], 1)
        wm = PACKED[key]
    else:
        wm = w.to_mkldnn()
    y = torch.mkldnn_convolution(x.to_mkldnn(), wm, b, pad2(p), [1, 1], [1, 1], 1)
    return F.leaky_relu(F.max_pool2d(y, 2, 2).to_dense(), S)


def part_strips(blk, x, w, b, p):
    return torch.cat([blk(x[:, :, a:e, :], w, b, p) for a, e in glcnn.strip_bounds(x.shape[2])], 2)


def part_stacked(blk, x, w, b, p):
    """One convolution over the strips stacked along the height with 2·pad_h
    zero rows between them; every strip is even-high, so each pools alone."""
    ph = pad2(p)[0]
    bounds = glcnn.strip_bounds(x.shape[2])
    gap = x.new_zeros(x.size(0), x.size(1), 2 * ph, x.size(3))
    pieces = []
    for i, (a, e) in enumerate(bounds):
        if i:
            pieces.append(gap)
        pieces.append(x[:, :, a:e, :])
    y = blk(torch.cat(pieces, 2), w, b, p)
    out, r = [], 0
    for a, e in bounds:
        n = (e - a) // 2
        out.append(y[:, :, r:r + n, :])
        r += n + ph
    return torch.cat(out, 2)


def forward(m, x, blk, part):
    c = lambda mod: (mod.weight, mod.bias)  # noqa: E731
    g = blk(blk(x, *c(m.gl_conv1.conv), 3), *c(m.gl_conv2.conv), 3)
    l1 = part(blk, x, *c(m.lc_conv1.conv[0]), (3, 3))
    l2 = part(blk, l1, *c(m.lc_conv2.conv[0]), (2, 3))
    f = blk(torch.cat([g, l2], 1), *c(m.conv.conv), 2).flatten(1)
    f = F.leaky_relu(m.linear_layer2(F.leaky_relu(m.linear_layer1(f), S)), S)
    return m.linear_age(f), m.linear_gender(f)


def interleaved(variants, repeats, scale, inner=1):
    T = {k: [] for k in variants}
    for f in variants.values():
        f()
    for _ in range(repeats):
        for k, f in variants.items():
            s = time.perf_counter()
            for _ in range(inner):
                f()
            T[k].append((time.perf_counter() - s) / inner)
    return {k: [scale / t for t in v] for k, v in T.items()}  # rates


def infer(a, m, x):
    V = {"eager no_grad": lambda: m(x),
         "strided (level 2)": lambda: forward(m, x, block_strided, part_strips),
         "oneDNN tensors, per-call weights (level 3)": lambda: forward(m, x, block_onednn, part_strips),
         "oneDNN tensors, prepacked weights": lambda: forward(m, x, lambda *q: block_onednn(*q, packed=True), part_strips),
         "level 3 + stacked part strips": lambda: forward(m, x, block_onednn, part_stacked)}
    frozen = torch.jit.freeze(torch.jit.trace(m, x[:8]))
    optimized = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(m, x[:8])))
    V["torch.jit.freeze"] = lambda: frozen(x)
    V["jit optimize_for_inference"] = lambda: optimized(x)
    ref = m(x)[0]
    for k, f in V.items():
        print(f"{k:44s} max |diff| vs eager {(f()[0] - ref).abs().max().item():.2g}", flush=True)
    R = interleaved(V, a.repeats, x.size(0))
    base = st.median(R["strided (level 2)"])
    eager = st.median(R["eager no_grad"])
    for k, v in R.items():
        md = st.median(v)
        print(f"{k:44s} {md:7.1f} GEIs/s [{min(v):.1f}-{max(v):.1f}]  /eager {md / eager:.2f}  /level 2 {md / base:.2f}")


def infer_pack(a, m, x):
    for bs in (1, 16, 256):
        xb = x[:bs].contiguous()
        V = {"per-call": lambda: forward(m, xb, block_onednn, part_strips),
             "prepacked": lambda: forward(m, xb, lambda *q: block_onednn(*q, packed=True), part_strips)}
        assert (V["per-call"]()[0] - V["prepacked"]()[0]).abs().max() == 0
        R = interleaved(V, a.repeats, bs, inner=max(1, 64 // bs))
        p, q = R["per-call"], R["prepacked"]
        print(f"b{bs}: per-call {st.median(p):.1f} GEIs/s, prepacked {st.median(q):.1f} GEIs/s, "
              f"prepacked/per-call {st.median(q) / st.median(p):.2f}; paired {sorted(round(j / i, 2) for i, j in zip(p, q))}")


def part(a, H, W):
    for name, ci, co, k, p, h, w in [("lc_conv1", 1, 32, (7, 7), (3, 3), H, W),
                                     ("lc_conv2", 32, 64, (5, 7), (2, 3), H // 2, W // 2)]:
        conv = torch.nn.Conv2d(ci, co, k, padding=p)
        x = torch.rand(a.batch, ci, h, w, requires_grad=ci > 1)
        rows = sum((e - s) // 2 for s, e in glcnn.strip_bounds(h))
        g = torch.rand(a.batch, co, rows, w // 2)

        def step(pf):
            conv.zero_grad()
            x.grad = None
            y = pf(block_strided, x, conv.weight, conv.bias, p)
            (y * g).sum().backward()
            return y, conv.weight.grad.clone()
        y0, g0 = step(part_strips)
        y1, g1 = step(part_stacked)
        print(f"{name} {H}x{W}: forward max |diff| {(y0 - y1).abs().max().item():.2g}, "
              f"weight grad relative diff {((g0 - g1).abs().max() / g0.abs().max()).item():.2g}")
        R = interleaved({"strips": lambda: step(part_strips), "stacked": lambda: step(part_stacked)}, a.repeats, a.batch)
        s_, t_ = R["strips"], R["stacked"]
        print(f"  forward+backward b{a.batch}: stacked/strips speed {st.median(t_) / st.median(s_):.2f}; "
              f"paired {sorted(round(j / i, 2) for i, j in zip(s_, t_))}")


def block_cl(x, w, b, p):
    """torchx level 4 under autograd: a multi-channel conv channels-last too."""
    y = F.conv2d(x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last), b, 1, p)
    return F.leaky_relu(F.max_pool2d(y.contiguous(memory_format=torch.channels_last), 2, 2), S).contiguous()


def part_split(blk, x, w, b, p):
    """torchx level 4: the strips of a part block taken by one split."""
    return torch.cat([blk(q, w, b, p) for q in x.split([e - s for s, e in glcnn.strip_bounds(x.shape[2])], 2)], 2)


def train_blocks(a, H, W):
    feet = glcnn.strip_bounds(H // 2)[-1]
    cases = [("gl_conv2", 32, 64, (7, 7), 3, H // 2),
             ("lc_conv2 feet strip", 32, 64, (5, 7), (2, 3), feet[1] - feet[0]),
             ("fusing conv", 128, 128, (5, 5), 2, H // 4)]
    V, grads = {}, {}
    for name, ci, co, k, p, h in cases:
        w_ = W // 2 if ci == 32 else W // 4
        x = torch.rand(a.batch, ci, h, w_, requires_grad=True)
        conv = torch.nn.Conv2d(ci, co, k, padding=p)

        def step(blk, x=x, conv=conv, p=p):
            x.grad = conv.weight.grad = None
            blk(x, conv.weight, conv.bias, p).square().sum().backward()
            return conv.weight.grad.clone()
        V[f"{name}, strided (level 3)"] = lambda s=step: s(block_strided)
        V[f"{name}, channels-last (level 4)"] = lambda s=step: s(block_cl)
    x = torch.rand(a.batch, 32, H // 2, W // 2, requires_grad=True)
    conv = torch.nn.Conv2d(32, 64, (5, 7), padding=(2, 3))

    def part_step(pf):
        x.grad = conv.weight.grad = None
        pf(block_strided, x, conv.weight, conv.bias, (2, 3)).square().sum().backward()
        return x.grad.clone()
    V["lc_conv2 part block, strips narrowed (level 3)"] = lambda: part_step(part_strips)
    V["lc_conv2 part block, strips split (level 4)"] = lambda: part_step(part_split)
    keys = list(V)
    for i in range(0, len(keys), 2):
        g0, g1 = V[keys[i]](), V[keys[i + 1]]()
        print(f"{keys[i + 1]:48s} gradient relative diff {((g0 - g1).abs().max() / g0.abs().max()).item():.2g}")
    R = interleaved(V, a.repeats, 1)
    for i in range(0, len(keys), 2):
        t0, t1 = [1000 / v for v in R[keys[i]]], [1000 / v for v in R[keys[i + 1]]]
        print(f"{keys[i]:48s} {st.median(t0):6.1f} ms; {keys[i + 1]}: {st.median(t1):6.1f} ms; "
              f"paired time ratio {st.median([q / r for r, q in zip(t0, t1)]):.2f}")


def train_other(a, H, W):
    f4 = torch.rand(a.batch, 128, H // 8, W // 8, requires_grad=True)
    lin = torch.nn.Linear(f4[0].numel(), 1024)

    def run(f):
        f4.grad = lin.weight.grad = lin.bias.grad = None
        f().square().sum().backward()
        return lin.weight.grad.clone()
    V = {"F.linear (OpenBLAS)": lambda: run(lambda: lin(f4.flatten(1))),
         "as a convolution (oneDNN)": lambda: run(lambda: F.conv2d(f4, lin.weight.view(1024, *f4.shape[1:]), lin.bias).flatten(1)),
         "mkldnn_linear": lambda: run(lambda: torch._C._nn.mkldnn_linear(f4.flatten(1).to_mkldnn(), lin.weight, lin.bias).to_dense())}
    g0 = V["F.linear (OpenBLAS)"]()
    R = interleaved(V, a.repeats, 1)
    t0 = [1000 / v for v in R["F.linear (OpenBLAS)"]]
    for k in V:
        t = [1000 / v for v in R[k]]
        print(f"{k:28s} {st.median(t):6.2f} ms; paired time ratio {st.median([q / r for r, q in zip(t0, t)]):.2f}; "
              f"weight grad relative diff {((V[k]() - g0).abs().max() / g0.abs().max()).item():.2g}")
    m = glcnn.build_model(H, W, 100, 0.5, seed=1).train()
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    x = torch.rand(a.batch, 1, H, W)
    ages, genders = torch.randint(0, 100, (a.batch,)).tolist(), torch.randint(0, 2, (a.batch,)).tolist()

    def step(flush):
        torch.set_flush_denormal(flush)
        za, zg = m(x)
        loss = glcnn.losses(za, zg, ages, genders, 0, 1.0, 1.0)["total"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    R = interleaved({"off": lambda: step(False), "on": lambda: step(True)}, a.repeats, a.batch, inner=4)
    torch.set_flush_denormal(False)
    print(f"eager training step, flush_denormal on/off speed: paired {st.median([j / i for i, j in zip(R['off'], R['on'])]):.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["infer", "infer-pack", "part", "train-blocks", "train-other"])
    ap.add_argument("--batch", type=int)
    ap.add_argument("--input", default="64x44")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    H, W = (int(v) for v in a.input.split("x"))
    if a.what in ("part", "train-blocks", "train-other"):
        a.batch = a.batch or 64
        {"part": part, "train-blocks": train_blocks, "train-other": train_other}[a.what](a, H, W)
        return
    m = glcnn.build_model(H, W, 100, 0.5, seed=1).eval()
    torch.manual_seed(3)
    x = torch.rand(a.batch or 256, 1, H, W)
    with torch.no_grad():
        (infer if a.what == "infer" else infer_pack)(a, m, x)


if __name__ == "__main__":
    main()
