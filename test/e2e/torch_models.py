"""Real models exported with torch.onnx.export, compiled by mlc and compared
with onnxruntime on the same random inputs (fp32: rtol 1e-3, atol 1e-4).

The set: torchvision ResNet-18, ResNet-50 and MobileNetV2, a BERT-base-sized
encoder (embeddings + 12 x nn.TransformerEncoderLayer, hidden 768, seq 128)
and a GPT-2-style causal decoder exported with dynamic batch and sequence
axes, each at opset 13 and 17. Weights are random with a fixed seed; nothing
is downloaded. Exports are cached (by torch version, model and opset) in
--cache so repeated CI runs only compile and run.

Dynamic models compile once and run at several sizes. Prints, per model and
size, the max abs and max rel error per output and the compile time, then
"N passed, N failed".
"""
import argparse
import hashlib
import math
import os
import subprocess
import sys
import time

import numpy as np

import mlc  # the Python package (pip install .)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

RTOL, ATOL = 1e-3, 1e-4
SEED = 0


def _torch():
    import torch
    torch.manual_seed(SEED)
    return torch


def vision(name):
    def build():
        torch = _torch()
        import torchvision
        return getattr(torchvision.models, name)(weights=None).eval(), (torch.randn(1, 3, 224, 224),)
    return build


def bert_base():
    torch = _torch()

    class Encoder(torch.nn.Module):
        def __init__(self, vocab=30522, d=768, layers=12, heads=12, seq=128):
            super().__init__()
            self.tok = torch.nn.Embedding(vocab, d)
            self.pos = torch.nn.Embedding(seq, d)
            self.norm = torch.nn.LayerNorm(d)
            layer = torch.nn.TransformerEncoderLayer(d, heads, 4 * d, batch_first=True,
                                                     activation="gelu")
            self.enc = torch.nn.TransformerEncoder(layer, layers)

        def forward(self, ids):
            pos = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0)
            return self.enc(self.norm(self.tok(ids) + self.pos(pos)))

    return Encoder().eval(), (torch.randint(0, 30522, (1, 128)),)


def gpt():
    torch = _torch()

    class Block(torch.nn.Module):
        def __init__(self, d, heads, ctx):
            super().__init__()
            self.heads = heads
            self.register_buffer("causal", torch.tril(torch.ones(ctx, ctx, dtype=torch.bool)))
            self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
            self.qkv, self.proj = torch.nn.Linear(d, 3 * d), torch.nn.Linear(d, d)
            self.fc, self.out = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            h = self.heads
            q, k, v = (t.view(B, T, h, C // h).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / math.sqrt(C // h)
            att = att.masked_fill(~self.causal[:T, :T], float("-inf")).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + self.proj(y)
            return x + self.out(torch.nn.functional.gelu(self.fc(self.ln2(x))))

    class Decoder(torch.nn.Module):
        def __init__(self, vocab=8192, d=256, layers=4, heads=8, ctx=512):
            super().__init__()
            self.wte, self.wpe = torch.nn.Embedding(vocab, d), torch.nn.Embedding(ctx, d)
            self.blocks = torch.nn.ModuleList(Block(d, heads, ctx) for _ in range(layers))
            self.ln = torch.nn.LayerNorm(d)

        def forward(self, ids):
            x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))
            for b in self.blocks:
                x = b(x)
            return self.ln(x) @ self.wte.weight.t()  # tied output head

    return Decoder().eval(), (torch.randint(0, 8192, (2, 16)),)


# name, builder, input names, dynamic axes, sizes to run: list of shapes,
# input kind ("image" or "tokens:VOCAB")
MODELS = [
    ("resnet18", vision("resnet18"), ["input"], None, [[(1, 3, 224, 224)]], "image"),
    ("resnet50", vision("resnet50"), ["input"], None, [[(1, 3, 224, 224)]], "image"),
    ("mobilenet_v2", vision("mobilenet_v2"), ["input"], None, [[(1, 3, 224, 224)]], "image"),
    ("bert_base", bert_base, ["ids"], None, [[(1, 128)]], "tokens:30522"),
    ("gpt", gpt, ["ids"], {"ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}},
     [[(b, t)] for b, t in [(1, 1), (3, 7), (8, 128), (1, 300), (3, 128)]], "tokens:8192"),
]
OPSETS = [13, 17]


def cached_export(cache, name, build, opset, inputs, dynamic):
    import torch
    key = hashlib.sha256(("%s %s %d v2" % (torch.__version__, name, opset)).encode()).hexdigest()[:12]
    path = os.path.join(cache, "%s_op%d_%s.onnx" % (name, opset, key))
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        model, example = build()
        tmp = path + ".tmp"
        # Not under no_grad: there nn.TransformerEncoderLayer takes its fused
        # fast path, which torch cannot export.
        torch.onnx.export(model, example, tmp, opset_version=opset, input_names=inputs,
                          output_names=["logits"], dynamic_axes=dynamic)
        os.replace(tmp, path)
    return path


def make_inputs(kind, shapes, rng):
    if kind == "image":
        return [rng.standard_normal(s).astype(np.float32) for s in shapes]
    vocab = int(kind.split(":")[1])
    return [rng.integers(0, vocab, s).astype(np.int64) for s in shapes]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--ci", action="store_true",
                    help="the subset CI runs (ResNet-50 and BERT-base take minutes each to compile)")
    a = ap.parse_args()
    import onnxruntime as ort
    os.makedirs(a.work, exist_ok=True)
    only = set(filter(None, a.only.split(",")))
    if a.ci and not only:
        only = {"resnet18", "mobilenet_v2", "gpt"}
    passed = failed = 0
    for name, builder, inputs, dynamic, sizes, kind in MODELS:
        if only and name not in only:
            continue
        for opset in OPSETS:
            tag = "%s opset %d" % (name, opset)
            onnx_path = cached_export(a.cache, name, builder, opset, inputs, dynamic)
            so = os.path.join(a.work, "%s_op%d.so" % (name, opset))
            t0 = time.perf_counter()
            r = subprocess.run([a.mlc, "compile", onnx_path, "-o", so, "--no-cache"],
                               capture_output=True, text=True)
            compile_s = time.perf_counter() - t0
            if r.returncode != 0:
                print("%s: compile failed: %s" % (tag, r.stderr.strip()[:2000]))
                failed += 1
                continue
            ok = True
            if name == "resnet18" and opset == 13:
                # Same model, same options: a byte-identical artifact.
                so2 = so + ".again"
                subprocess.run([a.mlc, "compile", onnx_path, "-o", so2, "--no-cache", "-q"], check=True)
                same = open(so, "rb").read() == open(so2, "rb").read()
                os.remove(so2)
                print("%s: recompilation byte-identical: %s" % (tag, same))
                ok &= same
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            ref = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
            # One thread and two (the kernels' distribution loops split
            # across the session's pool) must both match.
            sessions = [mlc.load(so, threads=t) for t in (1, 2)]
            for shapes, sess in ((s, x) for s in sizes for x in sessions):
                feeds = make_inputs(kind, shapes, np.random.default_rng(SEED))
                want = ref.run(None, {i.name: f for i, f in zip(ref.get_inputs(), feeds)})
                got = list(sess.run(list(feeds)).values())
                for o, g, w in zip(ref.get_outputs(), got, want):
                    good = g.shape == w.shape and np.allclose(g, w, rtol=RTOL, atol=ATOL)
                    abs_err = float(np.max(np.abs(g - w))) if g.shape == w.shape else float("inf")
                    rel_err = (float(np.max(np.abs(g - w) / (np.abs(w) + 1e-6)))
                               if g.shape == w.shape else float("inf"))
                    print("%s size %s threads %d output %s: max abs %.3g, max rel %.3g, "
                          "compile %.1f s: %s"
                          % (tag, "x".join(map(str, shapes[0])), sess.num_threads, o.name, abs_err,
                             rel_err, compile_s, "ok" if good else "MISMATCH"))
                    ok &= good
            del sessions
            passed += ok
            failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
