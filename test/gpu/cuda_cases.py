"""CUDA models on a GPU: pack compiled cases here, run them where the GPU is.

The build machine has the CUDA toolkit but no GPU; a GPU machine may lack
the compiler's LLVM/MLIR libraries. So the work is split:

  pack   (build machine) compiles ONNX node tests and models with
         `mlc compile --target cuda`, and writes one folder per case: the
         model (model.so.gz), its inputs and expected outputs (case.npz:
         in_<i>, out_<i>; node tests' stored outputs, or onnxruntime's on
         the CPU for models) and the tolerance (rtol atol). Cases that do
         not compile for cuda are listed in not_compiled.txt with the
         compiler's message.
  run    (GPU machine) loads each model through the runtime's C API
         (ctypes; only libmlc_runtime.so and the NVIDIA driver are needed),
         runs it on the GPU with host inputs, compares every output
         (NaN-aware; integers and bools exactly) and prints one line per
         case and a summary. Without a GPU every case is reported skipped,
         with the reason, and the run succeeds.

    python3 test/gpu/cuda_cases.py pack --mlc build/bin/mlc --out .gpu/cases \
        --node-filter 'relu|softmax' --model resnet18.onnx
    python3 test/gpu/cuda_cases.py run --runtime build/runtime/libmlc_runtime.so.1 .gpu/cases
"""
import argparse
import ctypes
import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

# mlc_dtype values (runtime/include/mlc/dtypes.def) and their NumPy twins.
DTYPES = {1: np.float32, 2: np.float64, 3: np.float16, 4: np.int64, 5: np.int32,
          6: np.int16, 7: np.int8, 8: np.uint8, 9: np.bool_, 10: np.uint16,
          11: np.uint32, 12: np.uint64}
NP_TO_MLC = {np.dtype(v): k for k, v in DTYPES.items()}


# --------------------------------------------------------------------------
# pack


def write_case(out, name, so, inputs, outputs, rtol, atol):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(so, "rb") as f, gzip.open(os.path.join(d, "model.so.gz"), "wb", 6) as g:
        shutil.copyfileobj(f, g)
    arrays = {"in_%d" % i: a for i, a in enumerate(inputs)}
    arrays.update({"out_%d" % i: a for i, a in enumerate(outputs)})
    np.savez_compressed(os.path.join(d, "case.npz"), **arrays)
    with open(os.path.join(d, "tolerance"), "w") as f:
        f.write("%g %g\n" % (rtol, atol))


def compile_batch(mlc, pairs, work, jobs=os.cpu_count() or 2):
    """{onnx: (ok, message)} for `mlc compile --target cuda --batch`, one
    compiler process per job."""
    import concurrent.futures as cf
    chunks = [pairs[i::jobs] for i in range(jobs)]
    res = {}
    with cf.ThreadPoolExecutor(jobs) as ex:
        for part in ex.map(lambda ic: compile_chunk(mlc, ic[1], work, ic[0]), enumerate(chunks)):
            res.update(part)
    return res


def compile_chunk(mlc, pairs, work, index):
    if not pairs:
        return {}
    lst = os.path.join(work, "batch-%d.txt" % index)
    with open(lst, "w") as f:
        for src, so in pairs:
            f.write("%s %s\n" % (src, so))
    env = dict(os.environ, MLC_CACHE_DIR="off")
    p = subprocess.run([mlc, "compile", "--target", "cuda", "--batch", lst], env=env,
                       capture_output=True, text=True)
    res = {}
    srcs = [s for s, _ in pairs]
    done = 0
    for line in p.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "begin":
            continue
        model, _, msg = rest.partition(" ")
        res[srcs[done]] = (kind == "ok", msg)
        done += 1
    for s in srcs[done:]:
        res[s] = (False, "compiler stopped (exit %d)" % p.returncode)
    return res


def pack(a):
    import onnx
    from node_tests import DEBIAN, collect, read_pb, tolerance
    os.makedirs(a.out, exist_ok=True)
    work = os.path.join(a.out, ".work")
    os.makedirs(work, exist_ok=True)
    failed = []
    tests = collect([a.node_source], a.cache, a.node_filter) if a.node_filter else []
    pairs = [(os.path.join(d, "model.onnx"), os.path.join(work, n + ".so")) for _, n, d in tests]
    if a.torch_model:
        import types
        sys.modules.setdefault("mlc", types.ModuleType("mlc"))  # torch_models imports it
        import torch_models
        for m in torch_models.MODELS:
            if m[0] in a.torch_model:
                a.model.append(torch_models.cached_export(a.cache, m[0], m[1], 17, m[2], m[3]))
    for path in a.model:
        pairs.append((path, os.path.join(work, os.path.basename(path) + ".so")))
    t0 = time.time()
    compiled = compile_batch(a.mlc, pairs, work) if pairs else {}
    print("compiled %d of %d for cuda in %.0f s" % (sum(ok for ok, _ in compiled.values()),
                                                    len(pairs), time.time() - t0))
    for _, name, d in tests:
        src = os.path.join(d, "model.onnx")
        ok, msg = compiled[src]
        if not ok:
            failed.append((name, msg))
            continue
        m = onnx.load(src, load_external_data=False)
        inits = {i.name for i in m.graph.initializer}
        n_in = len([i for i in m.graph.input if i.name not in inits])
        ds = sorted(glob.glob(os.path.join(d, "test_data_set_*")))[0]
        try:
            ins = [read_pb(os.path.join(ds, "input_%d.pb" % k)) for k in range(n_in)]
            outs = [read_pb(os.path.join(ds, "output_%d.pb" % k))
                    for k in range(len(m.graph.output))]
        except Exception as e:  # sequences and other non-tensor data
            failed.append((name, "data unreadable: %s" % e))
            continue
        rtol, atol = tolerance(d)
        write_case(a.out, "node_" + name, os.path.join(work, name + ".so"), ins, outs,
                   rtol, atol)
    for path in a.model:
        ok, msg = compiled[path]
        name = os.path.splitext(os.path.basename(path))[0]
        if not ok:
            failed.append((name, msg))
            continue
        import onnxruntime as ort
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        ins = []
        for i in sess.get_inputs():
            shape = [d if isinstance(d, int) else 1 for d in i.shape]
            if "int" in i.type:
                ins.append(rng.integers(0, 100, shape).astype(np.int64))
            else:
                ins.append(rng.standard_normal(shape).astype(np.float32))
        outs = sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), ins)})
        write_case(a.out, "model_" + name, os.path.join(work, os.path.basename(path) + ".so"),
                   ins, outs, a.rtol, a.atol)
    shutil.rmtree(work)
    with open(os.path.join(a.out, "not_compiled.txt"), "w") as f:
        for name, msg in failed:
            f.write("%s %s\n" % (name, msg.replace("\n", " ")[:200]))
    print("packed %d cases into %s; %d did not compile for cuda (not_compiled.txt)" %
          (len(pairs) - len(failed), a.out, len(failed)))
    if not a.expect:
        return 0
    # The tests expected not to compile for cuda: new failures and new
    # successes both fail the run, so the list only shrinks.
    expected = {}
    for line in open(a.expect):
        if line.strip() and not line.startswith("#"):
            name, _, why = line.strip().partition(" ")
            expected[name] = why
    got = dict(failed)
    status = 0
    for name in sorted(set(got) - set(expected)):
        print("UNEXPECTED COMPILE FAILURE %s: %s" % (name, got[name][:200]))
        status = 1
    for name in sorted(set(expected) - set(got)):
        print("UNEXPECTED COMPILE SUCCESS %s (remove it from %s)" % (name, a.expect))
        status = 1
    return status


# --------------------------------------------------------------------------
# run (ctypes over the runtime's C API)


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("size_bytes", ctypes.c_size_t),
                ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * 8)]


class Runtime:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        L = self.lib
        L.mlc_last_error.restype = ctypes.c_char_p
        L.mlc_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        L.mlc_model_free.argtypes = [ctypes.c_void_p]
        L.mlc_session_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        L.mlc_session_free.argtypes = [ctypes.c_void_p]
        L.mlc_model_num_outputs.argtypes = [ctypes.c_void_p]
        L.mlc_model_num_outputs.restype = ctypes.c_size_t
        L.mlc_session_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.c_size_t,
                                      ctypes.POINTER(Tensor), ctypes.c_size_t]
        L.mlc_tensor_release.argtypes = [ctypes.POINTER(Tensor)]

    def error(self):
        return self.lib.mlc_last_error().decode()

    def load(self, path):
        m = ctypes.c_void_p()
        if self.lib.mlc_model_load(path.encode(), ctypes.byref(m)):
            raise RuntimeError(self.error())
        s = ctypes.c_void_p()
        if self.lib.mlc_session_create(m, ctypes.byref(s)):
            err = self.error()
            self.lib.mlc_model_free(m)
            raise RuntimeError(err)
        return m, s

    def run(self, model, session, inputs):
        ins = (Tensor * max(1, len(inputs)))()
        keep = []
        for t, x in zip(ins, inputs):
            if not x.flags.c_contiguous:  # (ascontiguousarray would make 0-d 1-d)
                x = np.ascontiguousarray(x)
            keep.append(x)
            t.data, t.size_bytes = x.ctypes.data, x.nbytes
            t.dtype, t.rank = NP_TO_MLC[x.dtype], x.ndim
            for k, d in enumerate(x.shape):
                t.shape[k] = d
        n = self.lib.mlc_model_num_outputs(model)
        outs = (Tensor * max(1, n))()
        if self.lib.mlc_session_run(session, ins, len(inputs), outs, n):
            raise RuntimeError(self.error())
        res = []
        for t in outs[:n]:
            shape = tuple(t.shape[:t.rank])
            dt = np.dtype(DTYPES[t.dtype])
            count = int(np.prod(shape)) if shape else 1
            buf = (ctypes.c_char * max(1, count * dt.itemsize)).from_address(t.data)
            res.append(np.frombuffer(buf, dt, count).reshape(shape).copy())
            self.lib.mlc_tensor_release(ctypes.byref(t))
        return res

    def close(self, model, session):
        self.lib.mlc_session_free(session)
        self.lib.mlc_model_free(model)


def gpu_reason():
    """Why this machine cannot run CUDA models, or None."""
    try:
        lib = ctypes.CDLL(os.environ.get("MLC_CUDA_DRIVER", "libcuda.so.1"))
    except OSError as e:
        return "no NVIDIA driver (%s)" % e
    n = ctypes.c_int(0)
    if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(n)) != 0 or n.value == 0:
        return "no GPU"
    return None


def run(a):
    cases = sorted(d for root in a.cases for d in glob.glob(os.path.join(root, "*"))
                   if os.path.exists(os.path.join(d, "case.npz")))
    if a.filter:
        cases = [c for c in cases if re.search(a.filter, os.path.basename(c))]
    why = gpu_reason()
    if why:
        print("skipped %d GPU cases: %s" % (len(cases), why))
        return 0
    from node_tests import compare  # the conformance run's comparison
    rt = Runtime(a.runtime)
    tmp = a.tmp
    os.makedirs(tmp, exist_ok=True)
    passed, failures, results = 0, [], {}
    for c in cases:
        name = os.path.basename(c)
        so = os.path.join(tmp, name + ".so")
        with gzip.open(os.path.join(c, "model.so.gz"), "rb") as f, open(so, "wb") as g:
            shutil.copyfileobj(f, g)
        data = np.load(os.path.join(c, "case.npz"))
        ins = [data["in_%d" % i] for i in range(sum(k.startswith("in_") for k in data.files))]
        want = [data["out_%d" % i] for i in range(sum(k.startswith("out_") for k in data.files))]
        rtol, atol = map(float, open(os.path.join(c, "tolerance")).read().split())
        msg = None
        try:
            m, s = rt.load(so)
            try:
                got = rt.run(m, s, ins)
                for k, (g, w) in enumerate(zip(got, want)):
                    why = compare(g, w, rtol, atol)
                    if why:
                        msg = "output %d %s" % (k, why)
                        break
            finally:
                rt.close(m, s)
        except RuntimeError as e:
            msg = "run: %s" % e
        results[name] = msg
        if msg:
            failures.append((name, msg))
            print("FAIL %s: %s" % (name, msg), flush=True)
        else:
            passed += 1
    print("%d of %d CUDA cases passed" % (passed, len(cases)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--mlc", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--node-filter", help="node tests whose name matches")
    p.add_argument("--node-source", choices=["onnx-1.12", "onnx"], default="onnx-1.12",
                   help="Debian's libonnx-testdata (onnx 1.12), or the installed onnx's "
                        "generated cases (as node_tests.py)")
    p.add_argument("--model", action="append", default=[], help="an ONNX model (repeatable)")
    p.add_argument("--torch-model", action="append", default=[],
                   help="a model of test/e2e/torch_models.py, exported (cached) at opset 17")
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/mlc-models"))
    p.add_argument("--expect", help="tests expected not to compile for cuda (one per line)")
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-4)
    r = sub.add_parser("run")
    r.add_argument("--runtime", required=True, help="libmlc_runtime.so")
    r.add_argument("--filter")
    r.add_argument("--json")
    r.add_argument("--tmp", default="/tmp/mlc-cuda-cases")
    r.add_argument("cases", nargs="+")
    a = ap.parse_args()
    return pack(a) if a.cmd == "pack" else run(a)


if __name__ == "__main__":
    sys.exit(main())
