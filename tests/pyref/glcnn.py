#!/usr/bin/env python3
"""PyTorch reference of the GL-CNN age/gender network (Zhu et al. 2020).

Test and benchmark tool only: the gaitord product never depends on Python.
Run it with Debian's interpreter (/usr/bin/python3), which has torch.

Importable API: GEINet, build_model, load_safetensors, save_safetensors,
losses, decode_age, LOSS_TYPES.  CLI: ``init``, ``forward`` and ``spec`` (see
--help).

The loss family (docs/losses.md) is written here from the papers, in float64
where it matters, independently of gaitord's Go code: each type's age head
(``age_head``), its decoding to an expected age (``decode_age``) and its
losses (``losses``).
"""

import argparse
import json
import os
import struct
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

NEG_SLOPE = 0.01

# loss type -> GEINet attribute of its age head
LOSS_TYPES = {"odl": "linear_age", "ranking": "linear_age", "coral": "coral_age", "corn": "corn_age",
              "dldl": "dldl_age", "mean-variance": "mean_variance_age", "l1": "l1_age"}

# Strip heights (head, body, feet) of PartConv2d by feature-map height.
STRIPS = {32: (6, 12, 15), 64: (10, 24, 30), 128: (22, 48, 58)}


def strip_bounds(h):
    """Row ranges [a, b) of the head/body/feet strips for map height h."""
    if h not in STRIPS:
        raise ValueError(f"no strip table for map height {h}")
    bounds, a = [], 0
    for s in STRIPS[h]:
        bounds.append((a, min(a + s, h)))
        a += s
    return bounds


class BasicConv2d(nn.Module):
    """Conv2d -> leaky_relu(0.01) -> MaxPool2d(2, 2)."""

    def __init__(self, cin, cout, k, p):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=p, stride=1)

    def forward(self, x):
        return F.max_pool2d(F.leaky_relu(self.conv(x), NEG_SLOPE), 2, 2)


class PartConv2d(nn.Module):
    """One shared conv block applied to head/body/feet strips, re-joined on height."""

    def __init__(self, cin, cout, k, p):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin, cout, k, padding=p),
            nn.LeakyReLU(NEG_SLOPE),
            nn.MaxPool2d(2, 2),
        )

    def forward(self, x):
        parts = [self.conv(x[:, :, a:b, :]) for a, b in strip_bounds(x.shape[2])]
        return torch.cat(parts, 2)


class CoralHead(nn.Module):
    """CORAL's head: one weight row shared by the K tasks, one bias per task."""

    def __init__(self, cin, k):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, cin))
        self.bias = nn.Parameter(torch.zeros(k))

    def forward(self, x):
        return x @ self.weight.t() + self.bias


class GEINet(nn.Module):
    """Global-Local CNN with the age head of a loss type (odl and ranking: the
    seed's linear_age, K logits) and a gender head (2 logits)."""

    def __init__(self, input_h=64, input_w=44, k=100, dropout=0.5, loss_type="odl", min_age=0):
        super().__init__()
        if loss_type not in LOSS_TYPES:
            raise ValueError(f"loss type {loss_type!r}: want one of {', '.join(LOSS_TYPES)}")
        self.input_h, self.input_w, self.k, self.p = input_h, input_w, k, dropout
        self.loss_type = loss_type
        self.gl_conv1 = BasicConv2d(1, 32, 7, 3)
        self.gl_conv2 = BasicConv2d(32, 64, 7, 3)
        self.lc_conv1 = PartConv2d(1, 32, 7, 3)
        self.lc_conv2 = PartConv2d(32, 64, (5, 7), (2, 3))
        self.conv = BasicConv2d(128, 128, 5, 2)
        feat = self._flat_features()
        self.linear_layer1 = nn.Linear(feat, 1024)
        self.linear_layer2 = nn.Linear(1024, 1024)
        head = {"coral": lambda: CoralHead(1024, k), "dldl": lambda: nn.Linear(1024, k + 1),
                "mean-variance": lambda: nn.Linear(1024, k + 1), "l1": lambda: nn.Linear(1024, 1)}
        setattr(self, LOSS_TYPES[loss_type], head.get(loss_type, lambda: nn.Linear(1024, k))())
        self.linear_gender = nn.Linear(1024, 2)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)  # bias keeps PyTorch default
            elif isinstance(m, (nn.Linear, CoralHead)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        if loss_type == "l1":
            nn.init.constant_(self.l1_age.bias, min_age + k / 2)  # the age in years, from mid-range

    def age_head(self):
        return getattr(self, LOSS_TYPES[self.loss_type])

    def _flat_features(self):
        h, w = self.input_h, self.input_w
        for _ in range(3):  # three 2x2 max-pools, convs keep the size
            h, w = h // 2, w // 2
        return 128 * h * w

    def forward(self, x):
        g = self.gl_conv2(self.gl_conv1(x))
        l = self.lc_conv2(self.lc_conv1(x))
        x = self.conv(torch.cat([g, l], 1))
        x = torch.flatten(x, 1)
        x = F.dropout(F.leaky_relu(self.linear_layer1(x), NEG_SLOPE), self.p, self.training)
        x = F.dropout(F.leaky_relu(self.linear_layer2(x), NEG_SLOPE), self.p, self.training)
        return self.age_head()(x), self.linear_gender(x)


def build_model(input_h=64, input_w=44, k=100, dropout=0.5, seed=None, loss_type="odl"):
    """Build a GEINet; seeds torch's global RNG first when seed is given."""
    if seed is not None:
        torch.manual_seed(seed)
    return GEINet(input_h, input_w, k, dropout, loss_type)


def exceed_probs(age_out, loss_type="odl"):
    """P(age > min_age + k), k = 0..K-1, from the age head's outputs, in float64:
    sigmoid (odl, ranking, coral), the product of CORN's conditional
    probabilities, or the tail sums of a softmax over the K+1 ages."""
    z = age_out.double()
    if loss_type == "corn":
        return torch.cumprod(torch.sigmoid(z), 1)
    if loss_type in ("dldl", "mean-variance"):
        pi = torch.softmax(z, 1)
        return pi.flip(1).cumsum(1).flip(1)[:, 1:]  # sum_{j>k} pi_j
    return torch.sigmoid(z)


def decode_age(age_out, min_age=0.0, loss_type="odl", k=None):
    """Each type's decoded age: the expectation min_age + sum_k P(age > min_age+k),
    or for l1 the regressed age z (years) clamped into [min_age, min_age+K]."""
    if loss_type == "l1":
        return age_out.double()[:, 0].clamp(min_age, min_age + k)
    return min_age + exceed_probs(age_out, loss_type).sum(1)


def losses(age_logits, gender_logits, ages, genders, min_age=0, lam=1.0, mu=1.0, loss_type="odl",
           sigma=2.0, mean_w=0.2, var_w=0.05, k=None):
    """Each loss type's terms (by gaitord's names), the gender CE and the total.

    Written from the papers: odl = BCE over the K tasks (mean) + lam * ODL;
    coral = coral_pytorch's loss (BCE summed over tasks, mean over samples),
    divided by K in the total; corn = the BCE over the conditional training sets
    {y >= k} of task k, over their total size; dldl = KL(q || softmax) with
    q a discretised Gaussian of std sigma over the K+1 ages; mean-variance =
    softmax CE + mean_w * 1/2 (m - y)^2 + var_w * variance; l1 = |z - age|
    (years), divided by K in the total.
    Unknown genders (-1) are left out of the gender mean (ignore_index); with
    none known the gender term is 0. Targets are built on the host and moved
    to the logits' device."""
    if k is None:
        k = age_logits.shape[1] - (1 if loss_type in ("dldl", "mean-variance") else 0)
    dev, dt = age_logits.device, age_logits.dtype
    y = (torch.as_tensor(ages, dtype=torch.long).clamp(min_age, min_age + k) - min_age).to(dev)
    t = (y[:, None] > torch.arange(k, device=dev)[None, :]).to(dt)
    z = age_logits
    if loss_type in ("odl", "ranking"):
        terms = {"ranking": F.binary_cross_entropy_with_logits(z, t)}
        age = terms["ranking"]
        if loss_type == "odl":
            terms["odl"] = ((torch.sigmoid(z) - t) ** 2).mean()
            age = age + lam * terms["odl"]
    elif loss_type == "coral":
        per_sample = -(F.logsigmoid(z) * t + (F.logsigmoid(z) - z) * (1 - t)).sum(1)
        terms = {"coral": per_sample.mean()}
        age = terms["coral"] / k
    elif loss_type == "corn":
        s, count = 0.0, 0
        for j in range(k):
            sel = y > j - 1
            lab = (y[sel] > j).to(dt)
            s = s + F.binary_cross_entropy_with_logits(z[sel, j], lab, reduction="sum")
            count += int(sel.sum())
        terms = {"corn": s / count}
        age = terms["corn"]
    elif loss_type == "dldl":
        j = torch.arange(k + 1, device=dev, dtype=torch.float64)
        q = torch.exp(-((j[None, :] - y[:, None].double()) ** 2) / (2 * sigma * sigma))
        q = (q / q.sum(1, keepdim=True)).to(dt)
        terms = {"kl": F.kl_div(F.log_softmax(z, 1), q, reduction="batchmean")}
        age = terms["kl"]
    elif loss_type == "mean-variance":
        p = torch.softmax(z, 1)
        a = torch.arange(k + 1, device=dev, dtype=dt)
        m = (p * a).sum(1)
        terms = {"softmax": F.cross_entropy(z, y), "mean": 0.5 * ((m - y.to(dt)) ** 2).mean(),
                 "variance": (p * (a[None, :] - m[:, None]) ** 2).sum(1).mean()}
        age = terms["softmax"] + mean_w * terms["mean"] + var_w * terms["variance"]
    elif loss_type == "l1":
        terms = {"l1": (z[:, 0] - (min_age + y).to(dt)).abs().mean()}
        age = terms["l1"] / k
    else:
        raise ValueError(f"loss type {loss_type!r}")
    g = torch.as_tensor(genders, dtype=torch.long)
    if (g >= 0).any():
        gender = F.cross_entropy(gender_logits, g.to(gender_logits.device), ignore_index=-1)
        total = age + mu * gender
    else:
        gender = torch.zeros((), device=gender_logits.device)
        total = age
    return dict(terms, gender=gender, total=total)


def save_safetensors(path, tensors, metadata=None):
    """Write float32 tensors (name -> tensor) as safetensors, atomically."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        raw = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-st-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(hb)))
            f.write(hb)
            for b in blobs:
                f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_safetensors(path):
    """Read an F32 safetensors file; returns (name -> tensor, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base, out = 8 + n, {}
    for name, info in header.items():
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name}: dtype {info['dtype']}, want F32")
        b, e = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + b:base + e]), dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).clone()
    return out, meta


def model_from_weights(path):
    """Build a GEINet sized and typed by a safetensors file (metadata
    loss_type, odl when absent) and load it strictly."""
    sd, meta = load_safetensors(path)
    loss_type = meta.get("loss_type", "odl")
    if "k" in meta:
        k = int(meta["k"])
    else:
        k = sd[LOSS_TYPES[loss_type] + ".bias"].shape[0] - (1 if loss_type in ("dldl", "mean-variance") else 0)
    if "input_height" in meta and "input_width" in meta:
        h, w = int(meta["input_height"]), int(meta["input_width"])
    else:  # infer from the flattened feature count
        feat = sd["linear_layer1.weight"].shape[1]
        cands = [(h, w) for h, w in ((64, 44), (128, 88)) if 128 * (h // 8) * (w // 8) == feat]
        if not cands:
            raise ValueError(f"{path}: cannot infer input size from {feat} features")
        h, w = cands[0]
    model = GEINet(h, w, k, loss_type=loss_type)
    model.load_state_dict(sd, strict=True)
    return model.eval(), meta


def spec(input_h, input_w, k, loss_type="odl"):
    """State_dict names and shapes, block output shapes and FLOPs of one
    forward pass of a 1 x 1 x input_h x input_w GEI."""
    model = GEINet(input_h, input_w, k, loss_type=loss_type).eval()
    flops, maps = [0], {}

    def count(m, inp, out):
        if isinstance(m, nn.Conv2d):  # every output value costs in/groups * kh * kw multiply-adds
            flops[0] += 2 * out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        else:  # nn.Linear, CoralHead: one multiply-add per weight (bias adds not counted)
            flops[0] += 2 * m.weight.numel()

    def shape_of(name):
        def hook(m, inp, out):
            maps[name] = list(out.shape[1:])
        return hook

    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, CoralHead)):
            m.register_forward_hook(count)
        if isinstance(m, (BasicConv2d, PartConv2d)):
            m.register_forward_hook(shape_of(name))
    with torch.no_grad():
        model(torch.zeros(1, 1, input_h, input_w))
    return {"params": [[n, list(t.shape)] for n, t in model.state_dict().items()],
            "maps": maps, "flops": flops[0]}


def _ints(s):
    return [int(v) for v in s.split(",")] if s else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pi = sub.add_parser("init", help="save a freshly initialised model")
    pi.add_argument("--h", type=int, default=64)
    pi.add_argument("--w", type=int, default=44)
    pi.add_argument("--k", type=int, default=100)
    pi.add_argument("--seed", type=int, default=0)
    pi.add_argument("--loss", default="odl", choices=list(LOSS_TYPES))
    pi.add_argument("--out", required=True)
    pf = sub.add_parser("forward", help="eval-mode forward pass (and losses)")
    pf.add_argument("--weights", required=True)
    pf.add_argument("--input", required=True, help="raw little-endian float32 [N,1,H,W]")
    pf.add_argument("--n", type=int, required=True)
    pf.add_argument("--min-age", type=float, default=None)
    pf.add_argument("--ages")
    pf.add_argument("--genders")
    pf.add_argument("--lambda", dest="lam", type=float, default=1.0)
    pf.add_argument("--mu", type=float, default=1.0)
    pf.add_argument("--sigma", type=float, default=2.0, help="dldl: the label distribution's std")
    pf.add_argument("--mean-weight", type=float, default=0.2, help="mean-variance: lambda_1")
    pf.add_argument("--variance-weight", type=float, default=0.05, help="mean-variance: lambda_2")
    pf.add_argument("--out", required=True)
    pf.add_argument("--grads", help="also write d(total loss)/d(parameter), eval mode, as raw little-endian "
                    "float32, the parameters concatenated in state_dict order (needs --ages, --genders)")
    pp = sub.add_parser("spec", help="print, as JSON, the state_dict's names and shapes in order, "
                        "each block's output shape and a forward FLOP count taken by hooks on a real "
                        "forward pass (2 per multiply-add, convolutions and linear layers)")
    pp.add_argument("--h", type=int, default=64)
    pp.add_argument("--w", type=int, default=44)
    pp.add_argument("--k", type=int, default=100)
    pp.add_argument("--loss", default="odl", choices=list(LOSS_TYPES))
    a = ap.parse_args(argv)

    if a.cmd == "spec":
        json.dump(spec(a.h, a.w, a.k, a.loss), sys.stdout)
        return 0
    if a.cmd == "init":
        model = build_model(a.h, a.w, a.k, seed=a.seed, loss_type=a.loss)
        meta = {"input_height": a.h, "input_width": a.w, "k": a.k, "min_age": "0"}
        if a.loss != "odl":
            meta["loss_type"] = a.loss
        save_safetensors(a.out, model.state_dict(), meta)
        return 0

    model, meta = model_from_weights(a.weights)
    min_age = a.min_age if a.min_age is not None else float(meta.get("min_age", 0))
    with open(a.input, "rb") as f:
        raw = bytearray(f.read())
    shape = (a.n, 1, model.input_h, model.input_w)
    want = 4 * a.n * model.input_h * model.input_w
    if len(raw) != want:
        raise SystemExit(f"{a.input}: {len(raw)} bytes, want {want} for shape {list(shape)}")
    x = torch.frombuffer(raw, dtype=torch.float32).reshape(shape)
    with torch.no_grad():
        za, zg = model(x)
        lt = model.loss_type
        res = {"age_logits": za.tolist(), "gender_logits": zg.tolist(),
               "age": decode_age(za, min_age, lt, model.k).tolist()}
        ages, genders = _ints(a.ages), _ints(a.genders)
        if ages is not None:
            if genders is None or len(ages) != a.n or len(genders) != a.n:
                raise SystemExit("--ages and --genders need N values each")
            ls = losses(za, zg, ages, genders, int(min_age), a.lam, a.mu, lt, a.sigma, a.mean_weight,
                        a.variance_weight, model.k)
            res["losses"] = {k: float(v) for k, v in ls.items()}
    if a.grads:
        if ages is None:
            raise SystemExit("--grads needs --ages and --genders")
        model.zero_grad(set_to_none=True)
        za, zg = model(x)
        losses(za, zg, ages, genders, int(min_age), a.lam, a.mu, model.loss_type, a.sigma, a.mean_weight,
               a.variance_weight, model.k)["total"].backward()
        with open(a.grads, "wb") as f:
            for _, p in model.named_parameters():
                f.write(p.grad.detach().contiguous().numpy().astype("<f4").tobytes())
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
