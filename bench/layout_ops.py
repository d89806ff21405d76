#!/usr/bin/env python3
"""Per-operation timings behind gaitord's CPU layout choices (bench only).

Times each GL-CNN convolution (forward, and forward + backward) with oneDNN
on or off and NCHW or channels-last tensors, then 2x2 max-pooling and
leaky_relu on NCHW and channels-last maps, at batch 64 (and 256 for the
pools), 2 threads. Same libtorch as gaitord (Debian's python3-torch):
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/layout_ops.py
A single-channel tensor must be restrided with .to(memory_format=...):
.contiguous(memory_format=channels_last) leaves its NCHW strides, which
already count as channels-last, and oneDNN then keeps its NCHW path.
"""
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
CL = torch.channels_last
# name, in, out, kernel, padding, input (H, W), input needs a gradient
CONVS = [("gl_conv1", 1, 32, (7, 7), (3, 3), (64, 44), False),
         ("gl_conv2", 32, 64, (7, 7), (3, 3), (32, 22), True),
         ("lc_conv1 head", 1, 32, (7, 7), (3, 3), (10, 44), False),
         ("lc_conv1 body", 1, 32, (7, 7), (3, 3), (24, 44), False),
         ("lc_conv1 feet", 1, 32, (7, 7), (3, 3), (30, 44), False),
         ("lc_conv2 head", 32, 64, (5, 7), (2, 3), (6, 22), True),
         ("lc_conv2 body", 32, 64, (5, 7), (2, 3), (12, 22), True),
         ("lc_conv2 feet", 32, 64, (5, 7), (2, 3), (14, 22), True),
         ("conv", 128, 128, (5, 5), (2, 2), (16, 11), True)]


def median_ms(f, n=5):
    f()
    ts = []
    for _ in range(n):
        s = time.perf_counter()
        f()
        ts.append(time.perf_counter() - s)
    return 1000 * sorted(ts)[n // 2]


def convs(batch=64):
    print(f"convolutions, batch {batch}: forward / forward+backward, ms")
    for mkldnn in (True, False):
        torch.backends.mkldnn.enabled = mkldnn
        for cl in (False, True):
            for name, ci, co, k, p, hw, grad in CONVS:
                x = torch.randn(batch, ci, *hw)
                w = torch.randn(co, ci, *k)
                if cl:
                    x, w = x.to(memory_format=CL), w.to(memory_format=CL)
                x.requires_grad_(grad)
                w.requires_grad_(True)
                b = torch.randn(co, requires_grad=True)
                g = torch.randn_like(F.conv2d(x, w, b, padding=p))
                fwd = median_ms(lambda: F.conv2d(x, w, b, padding=p))
                both = median_ms(lambda: torch.autograd.grad(F.conv2d(x, w, b, padding=p), [w, b] + ([x] if grad else []), g))
                print(f"  mkldnn={mkldnn!s:5} channels_last={cl!s:5} {name:14} {fwd:8.2f} {both:8.2f}")
    torch.backends.mkldnn.enabled = True


def pools():
    print("2x2 max-pool and leaky_relu, ms: pool NCHW, pool CL, fwd+bwd NCHW, fwd+bwd CL, to CL, leaky NCHW")
    for batch in (64, 256):
        for shape in ((32, 64, 44), (64, 32, 22), (128, 16, 10), (32, 30, 44)):
            x = torch.randn(batch, *shape)
            xc = x.contiguous(memory_format=CL)
            xr, xcr = x.clone().requires_grad_(), xc.clone().requires_grad_()
            g = torch.randn_like(F.max_pool2d(x, 2, 2))
            gc = g.contiguous(memory_format=CL)
            row = [median_ms(lambda: F.max_pool2d(x, 2, 2)), median_ms(lambda: F.max_pool2d(xc, 2, 2)),
                   median_ms(lambda: torch.autograd.grad(F.max_pool2d(xr, 2, 2), xr, g)),
                   median_ms(lambda: torch.autograd.grad(F.max_pool2d(xcr, 2, 2), xcr, gc)),
                   median_ms(lambda: x.contiguous(memory_format=CL)), median_ms(lambda: F.leaky_relu(x, 0.01))]
            print(f"  batch {batch:3} {str(shape):14} " + " ".join(f"{v:8.2f}" for v in row))


if __name__ == "__main__":
    convs()
    pools()
