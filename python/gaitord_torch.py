#!/usr/bin/env python3
"""gaitord_torch: load a gaitord export in PyTorch, without gaitord.

One file, needing only ``torch`` and ``numpy`` (Debian's python3-torch 1.13 and
python3-numpy) and, to read and write PNG files, PIL (Debian's python3-pil).
It mirrors gaitord 0.1.0-dev (``internal/version``), prediction records of schema
``gaitord.prediction/v2`` (``api.Schema``) and export configurations of schema
``gaitord.export/v1`` (``modelcard.Schema``). It is the Python-side mirror of
facts that live in the Go code; each section below names the Go package it
mirrors, and a change there must be made here too (``tests/e2e/pymodule_test.go``
checks that this file reproduces ``gaitord predict --json`` and ``gaitord gei``
for every loss type). docs/export.md shows how to use it.

Usage::

    python3 python/gaitord_torch.py NAME.safetensors gei.png geis/ walk_frames/ ...
    python3 python/gaitord_torch.py gei --frames walk_frames/ --out gei.png

    import gaitord_torch as gt
    model = gt.load("glcnn.safetensors")           # GEINet, eval mode
    x = gt.load_gei("gei.png", model.config)        # float32 (H, W) in [0, 1]
    rec = model.predict(torch.from_numpy(x)[None, None])[0]   # dict, as predict --json

Files (``gaitord export --format safetensors --out NAME.safetensors``)
-----------------------------------------------------------------------
``NAME.safetensors``: 8-byte little-endian header length n, n bytes of JSON
header ``{"name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]},
..., "__metadata__": {...}}``, then the raw little-endian tensor bytes
(internal/safetensors; read here by hand, no safetensors package needed). The
metadata holds the model's shape as strings: ``input_height``, ``input_width``,
``k``, ``min_age``, ``dropout``, ``loss_type`` (internal/checkpoint
ModelMetadata); a file without them is read as gaitord reads it
(internal/checkpoint modelConfigFrom): 64x44, K = 100 (or from the age head's
bias), min_age 0, dropout 0.5, loss type ``odl``. ``NAME.json`` (schema
gaitord.export/v1, internal/modelcard) states the same shape under ``model``
and ``loss.type``; when it is present it must agree with the metadata. A
training checkpoint (``RUN/best.ckpt``, metadata ``gaitord.kind`` =
``checkpoint``) is safetensors too; its Adam moments ``optim.*`` are left out.

The network (internal/glcnn), for a 1 x 64 x 44 GEI (128 x 88 in brackets)
--------------------------------------------------------------------------
A block is Conv2d (stride 1, zero padding) -> leaky_relu(0.01) ->
MaxPool2d(2, 2); a part block applies one shared block to the head, body and
feet strips of its input (rows 10/24/30 of 64, 6/12/15->14 of 32, 22/48/58 of
128) and concatenates the results along the height::

    gl_conv1       gl_conv1.conv          1 ->  32   7x7   pad 3,3   32x22 (64x44)
    gl_conv2       gl_conv2.conv         32 ->  64   7x7   pad 3,3   16x11 (32x22)
    lc_conv1 part  lc_conv1.conv.0        1 ->  32   7x7   pad 3,3   32x22 (64x44)
    lc_conv2 part  lc_conv2.conv.0       32 ->  64   5x7   pad 2,3   16x11 (32x22)
    concat [gl_conv2, lc_conv2] on channels          128 x 16x11 (32x22)
    conv           conv.conv            128 -> 128   5x5   pad 2,2    8x5 (16x11)
    flatten F = 128*(H/8)*(W/8) = 5120 (22528)
    linear_layer1  F -> 1024, leaky_relu, dropout (training only)
    linear_layer2  1024 -> 1024, leaky_relu, dropout (training only)
    age head       by loss type, below
    linear_gender  1024 -> 2   (softmax; index 1 = male)

Age heads and decoding (internal/glcnn LossType, internal/metrics DecodeHead)
-----------------------------------------------------------------------------
::

    type           head parameters (1024 -> ...)            P(age > min_age+k) = p_k
    odl, ranking   linear_age        [K, 1024], [K]          sigmoid(z_k)
    coral          coral_age         [1, 1024], [K]          sigmoid(w.x + b_k)
    corn           corn_age          [K, 1024], [K]          prod_{j<=k} sigmoid(z_j)
    dldl           dldl_age          [K+1, 1024], [K+1]      sum_{j>k} softmax(z)_j
    mean-variance  mean_variance_age [K+1, 1024], [K+1]      sum_{j>k} softmax(z)_j
    l1             l1_age            [1, 1024], [1]          none: age = z, in years

From p (float64, computed from the float32 logits): the age is
``min_age + sum_k p_k`` clamped to [min_age, min_age+K]; the CDF at the ages
min_age-1 ... min_age+K is ``F = 0, 1 - m_0, ..., 1 - m_{K-1}, 1`` with m the
least-squares non-increasing fit of p (pool-adjacent-violators), clamped to
[0, 1]; a quantile q is the age where F, linear between integer ages, crosses
q, clamped to [min_age, min_age+K]; the median is q = 0.5 and the 80% interval
[q 0.1, q 0.9] (internal/metrics Monotone, CDF, Quantile). For l1 the age and
median are ``clamp(z_0, min_age, min_age+K)`` and there is no interval (JSON
null) and no p_age_gt. P(male) is the float32 softmax of the gender logits,
gender "male" when P(male) > 0.5 (api.GenderOf).

GEI preprocessing (internal/gei Preprocess, FromSilhouettes, WritePNG)
----------------------------------------------------------------------
Model input: N x 1 x H x W float32 in [0, 1], no normalisation.

1. Gray: 8-bit gray v/255, 16-bit gray v/65535 (float32 division); other
   PNG colour types through Go's color.GrayModel on alpha-premultiplied
   16-bit colour, ``y = (19595 r + 38470 g + 7471 b + 2^15) >> 24``, then /255.
2. Smaller than 8x8 or all black: refused.
3. An image of exactly H x W is taken pixel for pixel. Otherwise it is scaled
   to height H keeping its aspect ratio (width round(w*H/h), at least 1) by
   area averaging (exact overlap weights, float64), then, when that width is
   not W, shifted so its intensity-weighted column centroid (pixel centres at
   x + 0.5) lands on W/2: column x moves to x + round(W/2 - cx); columns
   falling outside are cut, missing ones are 0. Never stretched horizontally.
4. A GEI from silhouette frames: each frame (gray as in 1, not binarised) is
   cropped to the bounding box of its pixels > 0, normalised by 3, and the GEI
   is the float64 mean of the normalised frames, as float32; empty frames are
   skipped. Frames are a folder's *.png files (any case), sorted by name.
5. A GEI PNG stores round(v*255) clamped to 0...255 as 8-bit gray.

Every rounding is Go's (half away from zero) and every sum runs in Go's order,
so the preprocessing is bit-exact: ``gei`` here writes the pixels ``gaitord
gei`` writes. PNG decoding is PIL's; for 16-bit colour PNGs PIL keeps only 8
bits per channel, where Go keeps 16, so their gray values may differ by one
level in 255 (gaitord's own GEIs are 8-bit gray).

Errors are raised as GaitordTorchError with a one-line message naming the
file; the CLI prints it and exits with status 1.
"""

import argparse
import json
import math
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

GAITORD_VERSION = "0.1.0-dev"  # internal/version: the gaitord this file mirrors
PREDICTION_SCHEMA = "gaitord.prediction/v2"  # api.Schema
EXPORT_SCHEMA = "gaitord.export/v1"  # modelcard.Schema

LEAKY_SLOPE = 0.01  # glcnn.LeakySlope
SIZES = ((64, 44), (128, 88))  # glcnn: the served input sizes
STRIPS = {32: (6, 12, 15), 64: (10, 24, 30), 128: (22, 48, 58)}  # glcnn stripTable
MIN_SIDE = 8  # gei.MinSide

# glcnn LossType.headParam: loss type -> the age head's parameter prefix
LOSS_HEADS = {"odl": "linear_age", "ranking": "linear_age", "coral": "coral_age", "corn": "corn_age",
              "dldl": "dldl_age", "mean-variance": "mean_variance_age", "l1": "l1_age"}
SOFTMAX_TYPES = ("dldl", "mean-variance")  # glcnn LossType.Softmax

# internal/checkpoint modelConfigFrom: a weights file without metadata
DEFAULTS = {"input_height": 64, "input_width": 44, "k": 100, "min_age": 0, "dropout": 0.5, "loss_type": "odl"}

_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}


class GaitordTorchError(Exception):
    """A file or input this module cannot use; the message is one line."""


# ---------------------------------------------------------------- config


class Config:
    """The network's shape (glcnn.Config): input_h x input_w, K ordinal tasks
    "age > min_age + k", dropout, loss type."""

    def __init__(self, input_h=64, input_w=44, k=100, min_age=0, dropout=0.5, loss_type="odl"):
        self.input_h, self.input_w, self.k, self.min_age = input_h, input_w, k, min_age
        self.dropout, self.loss_type = dropout, loss_type or "odl"

    def validate(self):
        """glcnn.Config.Validate's ranges."""
        if (self.input_h, self.input_w) not in SIZES:
            raise GaitordTorchError(f"input size {self.input_h}x{self.input_w} not supported; supported: 64x44, 128x88")
        if not 2 <= self.k <= 1000:
            raise GaitordTorchError(f"K = {self.k} ordinal tasks: want 2...1000")
        if not 0 <= self.min_age <= 120:
            raise GaitordTorchError(f"min_age = {self.min_age}: want 0...120")
        if not 0 <= self.dropout < 1:
            raise GaitordTorchError(f"dropout = {self.dropout}: want [0, 1)")
        if self.loss_type not in LOSS_HEADS:
            raise GaitordTorchError(f"loss type {self.loss_type!r}: want {', '.join(LOSS_HEADS)}")
        return self

    def age_outputs(self):
        """glcnn Config.AgeOutputs: K, K+1 for the softmax heads, 1 for l1."""
        if self.loss_type == "l1":
            return 1
        return self.k + 1 if self.loss_type in SOFTMAX_TYPES else self.k

    def as_dict(self):
        return {"input_height": self.input_h, "input_width": self.input_w, "k": self.k,
                "min_age": self.min_age, "dropout": self.dropout, "loss_type": self.loss_type}

    def __repr__(self):
        return "Config(%s)" % ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())


# ---------------------------------------------------------------- safetensors


def read_safetensors(path):
    """Read a safetensors file by hand: returns (name -> float32 tensor,
    metadata dict). Every offset and length is checked against the file
    before anything is read, so a truncated or corrupt file is an error."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise GaitordTorchError(f"read {path}: {e.strerror or e}") from None
    if len(data) < 8:
        raise GaitordTorchError(f"read {path}: {len(data)} bytes, not a safetensors file (no 8-byte header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise GaitordTorchError(f"read {path}: header claims {n} bytes, the file holds {len(data) - 8} after the length (truncated?)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise GaitordTorchError(f"read {path}: header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise GaitordTorchError(f"read {path}: header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        try:
            dtype, shape, (b, e) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise GaitordTorchError(f"read {path}: tensor {name}: header entry {info!r} lacks dtype, shape or data_offsets") from None
        if dtype not in _DTYPES:
            raise GaitordTorchError(f"read {path}: tensor {name}: dtype {dtype}, want F32 (or F64, F16)")
        numel = math.prod(shape)
        size = np.dtype(_DTYPES[dtype]).itemsize
        if not (isinstance(b, int) and isinstance(e, int) and 0 <= b <= e <= len(body)):
            raise GaitordTorchError(f"read {path}: tensor {name}: data_offsets [{b}, {e}] outside the {len(body)} data bytes (truncated?)")
        if e - b != numel * size:
            raise GaitordTorchError(f"read {path}: tensor {name}: {e - b} bytes for shape {shape} of {dtype}, want {numel * size}")
        a = np.frombuffer(body[b:e], dtype=_DTYPES[dtype]).astype(np.float32).reshape(shape)
        out[name] = torch.from_numpy(a.copy())
    return out, meta


def _config_from_metadata(path, meta, weights):
    """internal/checkpoint modelConfigFrom, in Python."""
    c = Config(loss_type=meta.get("loss_type", "") or "odl")
    if c.loss_type not in LOSS_HEADS:
        raise GaitordTorchError(f"{path}: metadata loss_type {c.loss_type!r}: want {', '.join(LOSS_HEADS)}")
    for key, attr in (("input_height", "input_h"), ("input_width", "input_w"), ("k", "k"), ("min_age", "min_age")):
        if key in meta:
            try:
                setattr(c, attr, int(meta[key]))
            except ValueError:
                raise GaitordTorchError(f"{path}: metadata {key} = {meta[key]!r} is not an integer") from None
    if "dropout" in meta:
        try:
            c.dropout = float(meta["dropout"])
        except ValueError:
            raise GaitordTorchError(f"{path}: metadata dropout = {meta['dropout']!r} is not a number") from None
    bias = weights.get(LOSS_HEADS[c.loss_type] + ".bias")
    if "k" not in meta and c.loss_type != "l1" and bias is not None and bias.dim() == 1:
        c.k = bias.shape[0] - (1 if c.loss_type in SOFTMAX_TYPES else 0)
    try:
        return c.validate()
    except GaitordTorchError as e:
        raise GaitordTorchError(f"{path}: model in metadata: {e}") from None


def _check_json(json_path, c):
    """NAME.json (schema gaitord.export/v1) must state the shape the weights'
    metadata states."""
    try:
        with open(json_path, "rb") as f:
            doc = json.load(f)
    except OSError as e:
        raise GaitordTorchError(f"read {json_path}: {e.strerror or e}") from None
    except ValueError as e:
        raise GaitordTorchError(f"read {json_path}: not JSON: {e}") from None
    if not isinstance(doc, dict) or doc.get("schema") != EXPORT_SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else None
        raise GaitordTorchError(f"{json_path}: schema {got!r}, want {EXPORT_SCHEMA!r}")
    m, loss = doc.get("model") or {}, doc.get("loss") or {}
    stated = {"input_height": m.get("input_height"), "input_width": m.get("input_width"), "k": m.get("k"),
              "min_age": m.get("min_age"), "dropout": m.get("dropout"), "loss_type": loss.get("type")}
    have = c.as_dict()
    for key, v in stated.items():
        if v is not None and v != have[key]:
            raise GaitordTorchError(f"{json_path}: {key} = {v!r}, but the weights' metadata says {have[key]!r}")


# ---------------------------------------------------------------- network


class BasicConv2d(nn.Module):
    """Conv2d -> leaky_relu(0.01) -> MaxPool2d(2, 2); parameters conv.*."""

    def __init__(self, cin, cout, k, p):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=p, stride=1)

    def forward(self, x):
        return F.max_pool2d(F.leaky_relu(self.conv(x), LEAKY_SLOPE), 2, 2)


class PartConv2d(nn.Module):
    """One shared block on the head, body and feet strips (STRIPS), the
    results concatenated on the height; parameters conv.0.*."""

    def __init__(self, cin, cout, k, p):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout, k, padding=p), nn.LeakyReLU(LEAKY_SLOPE), nn.MaxPool2d(2, 2))

    def forward(self, x):
        h, a, parts = x.shape[2], 0, []
        for rows in STRIPS[h]:
            parts.append(self.conv(x[:, :, a:min(a + rows, h), :]))
            a += rows
        return torch.cat(parts, 2)


class CoralHead(nn.Module):
    """CORAL's head: one weight row [1, 1024] shared by the K tasks, K biases."""

    def __init__(self, cin, k):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, cin))
        self.bias = nn.Parameter(torch.zeros(k))

    def forward(self, x):
        return x @ self.weight.t() + self.bias


class GEINet(nn.Module):
    """The GL-CNN with the seed's parameter names and the age head of
    config.loss_type. forward(x: N x 1 x H x W) -> (age outputs N x
    config.age_outputs(), gender logits N x 2). Built with zero weights:
    use load() or load_state_dict."""

    def __init__(self, config):
        super().__init__()
        c = self.config = config.validate()
        self.gl_conv1 = BasicConv2d(1, 32, 7, 3)
        self.gl_conv2 = BasicConv2d(32, 64, 7, 3)
        self.lc_conv1 = PartConv2d(1, 32, 7, 3)
        self.lc_conv2 = PartConv2d(32, 64, (5, 7), (2, 3))
        self.conv = BasicConv2d(128, 128, 5, 2)
        self.linear_layer1 = nn.Linear(128 * (c.input_h // 8) * (c.input_w // 8), 1024)
        self.linear_layer2 = nn.Linear(1024, 1024)
        head = CoralHead(1024, c.k) if c.loss_type == "coral" else nn.Linear(1024, c.age_outputs())
        setattr(self, LOSS_HEADS[c.loss_type], head)
        self.linear_gender = nn.Linear(1024, 2)

    def forward(self, x):
        g = self.gl_conv2(self.gl_conv1(x))
        l = self.lc_conv2(self.lc_conv1(x))
        x = torch.flatten(self.conv(torch.cat([g, l], 1)), 1)
        x = F.dropout(F.leaky_relu(self.linear_layer1(x), LEAKY_SLOPE), self.config.dropout, self.training)
        x = F.dropout(F.leaky_relu(self.linear_layer2(x), LEAKY_SLOPE), self.config.dropout, self.training)
        return getattr(self, LOSS_HEADS[self.config.loss_type])(x), self.linear_gender(x)

    @torch.no_grad()
    def predict(self, x):
        """Records (dicts shaped like predict --json's, without path and
        source) for a batch x of N x 1 x H x W GEIs, in eval mode."""
        was = self.training
        self.eval()
        try:
            age, gender = self.forward(x.to(torch.float32))
        finally:
            self.train(was)
        p_male = torch.softmax(gender, 1)[:, 1].tolist()
        out = []
        for z, pm in zip(age.tolist(), p_male):
            p, d = decode_head(self.config, z)
            out.append(record(d, p, pm))
        return out


def load(path, json_path=None):
    """Load NAME.safetensors (and NAME.json beside it, when present, or
    json_path) into a GEINet in eval mode; a training checkpoint (best.ckpt,
    a safetensors file too) loads without its optimiser state. The weights must fit the model
    exactly (glcnn CheckWeights: every parameter with its shape, all finite,
    nothing else); every problem is named on one line."""
    weights, meta = read_safetensors(path)
    if meta.get("gaitord.kind") == "checkpoint":
        # a training checkpoint (internal/checkpoint): the model's weights plus
        # Adam's moments, optim.exp_avg.<name> and optim.exp_avg_sq.<name>
        weights = {n: t for n, t in weights.items() if not n.startswith("optim.")}
    c = _config_from_metadata(path, meta, weights)
    if json_path is None:
        cand = os.path.splitext(path)[0] + ".json"
        json_path = cand if os.path.exists(cand) else None
    if json_path is not None:
        _check_json(json_path, c)
    model = GEINet(c)
    want = model.state_dict()
    problems = []
    for name, t in want.items():
        if name not in weights:
            problems.append(f"missing {name} (shape {list(t.shape)})")
        elif tuple(weights[name].shape) != tuple(t.shape):
            problems.append(f"{name} has shape {list(weights[name].shape)}, model ({c.input_h}x{c.input_w}, K={c.k}, "
                            f"{c.loss_type}) needs {list(t.shape)}")
        elif not torch.isfinite(weights[name]).all():
            problems.append(f"{name} holds non-finite values")
    problems += [f"unexpected {n}" for n in sorted(set(weights) - set(want))]
    if problems:
        raise GaitordTorchError(f"{path}: weights do not fit the model: {'; '.join(problems)}")
    model.load_state_dict(weights, strict=True)
    return model.eval()


# ---------------------------------------------------------------- decoding


def _sigmoid(x):
    """metrics.sigmoid: 1/(1+e^-x) without overflow."""
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    e = math.exp(x)
    return e / (1 + e)


def decode_head(c, z):
    """metrics.DecodeHead: one sample's age outputs z (c.age_outputs()
    floats) -> (p, decoding). p is the K probabilities P(age > min_age + k)
    (None for l1); the decoding is a dict: age, median, interval80 ([lo, hi]
    or None), rank_violations, rank_pairs."""
    z = [float(v) for v in z]
    if len(z) != c.age_outputs():
        raise GaitordTorchError(f"decode: {len(z)} age outputs, a {c.loss_type} head of K = {c.k} gives {c.age_outputs()}")
    if c.loss_type == "l1":
        a = z[0] if math.isnan(z[0]) else min(max(z[0], float(c.min_age)), float(c.min_age + c.k))
        return None, {"age": a, "median": a, "interval80": None, "rank_violations": 0, "rank_pairs": 0}
    p = [0.0] * c.k
    if c.loss_type == "corn":
        prod = 1.0
        for k, v in enumerate(z):
            prod *= _sigmoid(v)
            p[k] = prod
    elif c.loss_type in SOFTMAX_TYPES:
        m = max(z)
        pi = [math.exp(v - m) for v in z]
        s = 0.0
        for v in pi:
            s += v
        tail = 0.0  # suffix sums from the oldest age down: p_k = p_{k+1} + pi_{k+1}
        for k in range(c.k - 1, -1, -1):
            tail += pi[k + 1] / s
            p[k] = tail
    else:  # odl, ranking, coral
        p = [_sigmoid(v) for v in z]
    return p, decode(p, c.min_age)


def monotone(p):
    """metrics.Monotone: the least-squares non-increasing fit (PAVA), clamped
    to [0, 1]."""
    blocks = []  # [sum, n]
    for v in p:
        blocks.append([v, 1])
        while len(blocks) > 1:
            a, b = blocks[-2], blocks[-1]
            if a[0] * b[1] >= b[0] * a[1]:
                break
            blocks[-2:] = [[a[0] + b[0], a[1] + b[1]]]
    out = []
    for s, n in blocks:
        out += [min(max(s / n, 0.0), 1.0)] * n
    return out


def cdf(p):
    """metrics.CDF: F at the ages min_age-1 ... min_age+K (K+2 values)."""
    return [0.0] + [1 - v for v in monotone(p)] + [1.0]


def quantile(p, min_age, q):
    """metrics.Quantile: the age where the piecewise-linear CDF crosses q,
    within [min_age, min_age+K]."""
    if math.isnan(q):
        return math.nan
    q = min(max(q, 0.0), 1.0)
    f = cdf(p)
    base, lo, hi = float(min_age - 1), float(min_age), float(min_age + len(p))
    if q <= 0:
        return lo
    for j in range(1, len(f)):
        if f[j] >= q:
            return min(max(base + float(j - 1) + (q - f[j - 1]) / (f[j] - f[j - 1]), lo), hi)
    return hi


def decode(p, min_age):
    """metrics.Decode: expected age (clamped), median, 80% interval, rank
    inconsistency of the ordinal probabilities p."""
    s = 0.0
    for v in p:
        s += v
    viol = sum(1 for k in range(len(p) - 1) if p[k] < p[k + 1])
    return {"age": min(max(float(min_age) + s, float(min_age)), float(min_age + len(p))),
            "median": quantile(p, min_age, 0.5),
            "interval80": [quantile(p, min_age, 0.1), quantile(p, min_age, 0.9)],
            "rank_violations": viol, "rank_pairs": max(len(p) - 1, 0)}


def record(d, p, p_male, path=None, source=None):
    """A prediction record as `gaitord predict --json` prints it (api.Prediction,
    schema gaitord.prediction/v2; infer.Output.Prediction), keys in its order."""
    r = {"schema": PREDICTION_SCHEMA}
    if path is not None:
        r["path"] = path
    if source:
        r["source"] = source
    r.update({"age": d["age"], "age_median": d["median"], "age_interval80": d["interval80"],
              "gender": "male" if p_male > 0.5 else "female", "p_male": p_male})
    if p is not None:
        r["p_age_gt"] = p
    return r


# ---------------------------------------------------------------- GEI preprocessing


def _go_round(x):
    """Go's math.Round: half away from zero."""
    t = math.trunc(x)
    if abs(x - t) >= 0.5:
        t += math.copysign(1, x)
    return int(t)


def _spans(j, src, dst):
    """gei.forSpan: (i, weight) for every source cell i of src overlapping
    destination cell j of dst over the same extent, weight overlap/src."""
    lo, hi = j * src, (j + 1) * src
    i, out = lo // dst, []
    while i * dst < hi:
        ov = min(hi, (i + 1) * dst) - max(lo, i * dst)
        if ov > 0:
            out.append((i, float(ov) / float(src)))
        i += 1
    return out


def fit(plane, h, w):
    """gei.fit: a float32 (rows, cols) plane -> the float32 (h, w) model input
    (rules 3 of the module doc)."""
    ph, pw = plane.shape
    if (ph, pw) == (h, w):
        return plane.astype(np.float32, copy=True)
    nw = max(_go_round(float(pw) * float(h) / float(ph)), 1)
    src = plane.astype(np.float64)
    rows = np.zeros((h, pw), np.float64)  # scaleRows
    for y in range(h):
        for i, wt in _spans(y, ph, h):
            rows[y] += wt * src[i]
    offset = 0
    if nw != w:
        col_sum = np.zeros(pw, np.float64)  # centroidX
        for y in range(h):
            col_sum += rows[y]
        col_sum = col_sum.tolist()
        mass = moment = 0.0
        for j in range(nw):
            m = 0.0
            for i, wt in _spans(j, pw, nw):
                m += wt * col_sum[i]
            mass += m
            moment += m * (float(j) + 0.5)
        cx = moment / mass if mass > 0 else float(nw) / 2
        offset = _go_round(float(w) / 2 - cx)
    out = np.zeros((h, w), np.float32)
    for x in range(w):
        j = x - offset
        if j < 0 or j >= nw:
            continue
        col = np.zeros(h, np.float64)
        for i, wt in _spans(j, pw, nw):
            col += wt * rows[:, i]
        out[:, x] = col.astype(np.float32)
    return out


def _pil():
    try:
        from PIL import Image
    except ImportError:
        raise GaitordTorchError("reading and writing PNG files needs PIL (Debian: apt-get install python3-pil)") from None
    return Image


def read_gray(path):
    """A PNG file as a float32 (rows, cols) plane in [0, 1], gray as
    gei.toPlane converts it (rule 1 of the module doc)."""
    levels, top = _gray_levels(path)
    return levels.astype(np.float32) / np.float32(top)


def _gray_levels(path):
    """A PNG file's gray levels as Go reads them: (int array, 255) for 8-bit
    gray and every colour type, (int array, 65535) for 16-bit gray."""
    Image = _pil()
    try:
        with Image.open(path) as im:
            im.load()
            mode, info = im.mode, dict(im.info)
            if mode == "1":
                im, mode = im.convert("L"), "L"
            if mode == "L" and "transparency" not in info:
                return np.asarray(im, dtype=np.uint8).astype(np.int64), 255
            if mode in ("I;16", "I;16B", "I;16L", "I") and "transparency" not in info:
                return np.asarray(im).astype(np.int64), 65535
            if mode in ("L", "LA"):
                a = np.asarray(im.convert("LA"), dtype=np.int64)
                gray, alpha = a[..., 0], a[..., 1]
                if mode == "L":  # a tRNS gray level: Go makes those pixels transparent
                    alpha = np.where(gray == int(info["transparency"]), 0, 255)
                rgb = np.stack([gray, gray, gray], -1)
            else:
                a = np.asarray(im.convert("RGBA"), dtype=np.int64)
                rgb, alpha = a[..., :3], a[..., 3]
    except OSError as e:
        raise GaitordTorchError(f"read {path}: {e}") from None
    # Go: colour.NRGBA.RGBA() premultiplies in 16 bits, (v*0x101)*a/0xff;
    # opaque pixels give v*0x101 as image.RGBA does; then color.GrayModel.
    c16 = (rgb * 0x101 * alpha[..., None]) // 0xFF
    y = (19595 * c16[..., 0] + 38470 * c16[..., 1] + 7471 * c16[..., 2] + (1 << 15)) >> 24
    return y, 255


def is_silhouette(path):
    """gei.IsSilhouette: every pixel pure black or pure white (8-bit gray by
    color.GrayModel, 16-bit gray v >> 8), some of it white. A file that cannot
    be read is not one."""
    try:
        levels, top = _gray_levels(path)
    except GaitordTorchError:
        return False
    if top != 255:
        levels = levels >> 8
    return bool(((levels == 0) | (levels == 255)).all() and (levels == 255).any())


def preprocess(plane, config, name="image"):
    """gei.Preprocess on a float32 plane: size checks, then fit."""
    ph, pw = plane.shape
    if ph < MIN_SIDE or pw < MIN_SIDE:
        raise GaitordTorchError(f"read GEI {name}: image too small to hold a silhouette: {pw}x{ph} (width x height), need at least {MIN_SIDE}x{MIN_SIDE}")
    if not (plane > 0).any():
        raise GaitordTorchError(f"read GEI {name}: all-black image, no silhouette: every pixel of the {pw}x{ph} image is 0")
    return fit(plane, config.input_h, config.input_w)


def load_gei(path, config):
    """A GEI PNG as the model input: float32 (H, W) in [0, 1] (gei.Load)."""
    return preprocess(read_gray(path), config, path)


def gei_from_planes(planes, h, w):
    """gei.FromSilhouettes: the mean of the cropped, normalised frames.
    Returns (float32 (h, w) GEI, used, skipped)."""
    acc, used, skipped = np.zeros((h, w), np.float64), 0, 0
    for p in planes:
        if p is None or p.size == 0 or not (p > 0).any():
            skipped += 1
            continue
        ys, xs = np.nonzero(p > 0)
        crop = p[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        acc += fit(crop, h, w).astype(np.float64)
        used += 1
    if used == 0:
        raise GaitordTorchError(f"no usable silhouette frames ({skipped} skipped as empty)")
    return (acc / used).astype(np.float32), used, skipped


def list_pngs(folder, regular_only=False):
    """gei.ListPNGs: the *.png entries (any case) of folder that are not
    folders, symbolic links included, sorted by name; with regular_only,
    gei.pngNames: regular files only. Raises OSError."""
    with os.scandir(folder) as it:
        names = sorted(e.name for e in it if e.name.lower().endswith(".png") and
                       (e.is_file(follow_symlinks=False) if regular_only else not e.is_dir()))
    return [os.path.join(folder, n) for n in names]


def frame_paths(folder):
    """gei.pngNames: the regular *.png files (any case) of folder, sorted."""
    try:
        names = list_pngs(folder, regular_only=True)
    except OSError as e:
        raise GaitordTorchError(f"read silhouette folder {folder}: {e.strerror or e}") from None
    if not names:
        raise GaitordTorchError(f"read silhouette folder {folder}: no .png frames")
    return names


def gei_from_frames(folder, h=64, w=44):
    """gei.LoadSilhouetteDir: a folder of silhouette frames -> float32 (h, w) GEI."""
    try:
        g, _, _ = gei_from_planes((read_gray(p) for p in frame_paths(folder)), h, w)
    except GaitordTorchError as e:
        raise GaitordTorchError(f"read silhouette folder {folder}: {e}") from None
    return g


def quantize(gei):
    """gei.toByte: round(v*255) clamped to 0...255 (NaN -> 0), as uint8."""
    f = np.asarray(gei, np.float64) * 255
    f = np.where(np.isnan(f), 0, f)
    r = np.where(f >= 0, np.floor(f + 0.5), np.ceil(f - 0.5))  # half away from zero
    return np.clip(r, 0, 255).astype(np.uint8)


def write_png(path, gei):
    """gei.WritePNG: an 8-bit gray PNG, written to a temporary file beside
    path and renamed over it (no half-written file)."""
    Image = _pil()
    d = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-gei-", suffix=".png")
    except OSError as e:
        raise GaitordTorchError(f"write GEI {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(quantize(gei), mode="L").save(f, format="PNG")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError):
            raise GaitordTorchError(f"write GEI {path}: {e.strerror or e}") from None
        raise


# ---------------------------------------------------------------- CLI


def expand(paths, frames=False):
    """internal/inputs Expand, for PNG inputs: (path, source) pairs, source
    "gei" or "silhouettes", or (path, error message). A file is a GEI; in a
    folder the *.png files are one walk of silhouette frames when the first
    is pure black and white (is_silhouette) or frames is set, else one GEI
    each. OpenGait pickles (*.pkl) are not read here: unpickling runs code,
    and gaitord's allow-listed reader has no Python twin in this file."""
    out = []
    for p in paths:
        if not os.path.isdir(p):
            out.append((p, "gei") if os.path.exists(p) else (p, f"{p}: no such file or directory"))
            continue
        try:
            pngs = list_pngs(p)
        except OSError as e:
            out.append((p, f"{p}: {e.strerror or e}"))
            continue
        if not pngs:
            out.append((p, f"{p}: no GEI (.png) or silhouette frames in it"))
        elif frames or is_silhouette(pngs[0]):
            out.append((p, "silhouettes"))
        else:
            out += [(f, "gei") for f in pngs]
    return out


def _predict_main(argv):
    ap = argparse.ArgumentParser(prog="gaitord_torch.py",
                                 description="Predict age and gender with a gaitord safetensors export, "
                                             "one JSON record per input as `gaitord predict --json` prints it. "
                                             "An input is a GEI PNG, a folder of GEIs or a folder of silhouette frames; "
                                             "a bad input is reported on stderr and the others continue (exit status 1).")
    ap.add_argument("weights", help="NAME.safetensors (NAME.json beside it is checked when present)")
    ap.add_argument("inputs", nargs="+", help="GEI PNG files, folders of GEIs or folders of silhouette frames (*.png)")
    ap.add_argument("--frames", action="store_true", help="treat every folder as silhouette frames of one walk")
    a = ap.parse_args(argv)
    model = load(a.weights)
    c = model.config
    failed = 0
    for path, source in expand(a.inputs, a.frames):
        try:
            if source == "silhouettes":
                x = gei_from_frames(path, c.input_h, c.input_w)
            elif source == "gei":
                x = load_gei(path, c)
            else:
                raise GaitordTorchError(source)
        except GaitordTorchError as e:
            print(f"gaitord_torch: {e}", file=sys.stderr)
            failed += 1
            continue
        r = model.predict(torch.from_numpy(x)[None, None])[0]
        rec = {"schema": r.pop("schema"), "path": path, "source": source}
        rec.update(r)
        print(json.dumps(rec, separators=(",", ":")), flush=True)
    return 1 if failed else 0


def _gei_main(argv):
    ap = argparse.ArgumentParser(prog="gaitord_torch.py gei",
                                 description="Build a GEI PNG from a folder of silhouette frames, as `gaitord gei --frames` does.")
    ap.add_argument("--frames", required=True, help="folder of silhouette frames (*.png) of one walk")
    ap.add_argument("--out", required=True, help="output GEI PNG")
    ap.add_argument("--height", type=int, default=64, help="GEI height (64 or 128)")
    ap.add_argument("--width", type=int, default=44, help="GEI width (44 or 88)")
    a = ap.parse_args(argv)
    if (a.height, a.width) not in SIZES:
        raise GaitordTorchError(f"unsupported GEI size {a.height}x{a.width} (want 64x44 or 128x88)")
    write_png(a.out, gei_from_frames(a.frames, a.height, a.width))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] == "gei":
            _gei_main(argv[1:])
            return 0
        return _predict_main(argv)
    except GaitordTorchError as e:
        print(f"gaitord_torch: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
