"""ONNX conformance: every node test of two sources, compiled and run by mlc.

Sources
  onnx-1.12   Debian's libonnx-testdata (/usr/share/libonnx-testdata/data/node)
  onnx-<ver>  the installed onnx package's own node test cases, written out
              once (model.onnx + test_data_set_*/input_*.pb, output_*.pb, as
              `onnx.backend.test.cmd_tools generate-data` writes them) into
              the cache folder

Every test directory counts; none is filtered out by an op list. Each model
is compiled by `mlc compile --batch` (one compiler process per job, so both
cores are busy and no process is started per model) and each data set is run
with `mlc run`. Outputs are compared with the stored ones at ONNX's backend
tolerances (rtol 1e-3, atol 1e-7, or the test case's own; for bfloat16
outputs rtol 2^-6, two bfloat16 ULPs, as ONNX's backend runner allows),
NaN-aware, and integers and bools exactly.

A test that does not pass must be listed in node_tests_xfail.txt as
`SOURCE TEST CATEGORY REASON...`. The run fails on a failure that is not
listed and on a listed test that passes, so the list only shrinks;
`--update` rewrites it (keeping the categories already given). Categories
are computed (training-op, sequence-type, optional-type, string-type,
not-yet, ...) except `bad-test-data`, given by hand to a test whose stored
data contradicts the op's definition (onnx 1.12's FLOAT to BFLOAT16 Cast
expects truncation where the spec and onnxruntime round to nearest even; its
CastLike tests feed a `like` input of another rank than the model declares).

Prints pass counts per source, the expected failures per category and the
unexpected results.
"""
import argparse
import collections
import concurrent.futures as cf
import glob
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN = "/usr/share/libonnx-testdata/data/node"
XFAIL = os.path.join(HERE, "node_tests_xfail.txt")
SUMMARY = os.path.join(HERE, "node_tests_summary.json")
COMPILE_TIMEOUT = 120  # seconds without progress before a batch item is a hang
RUN_TIMEOUT = 60

TRAINING_OPS = {"Adagrad", "Adam", "Momentum", "Gradient"}
STRING_OPS = {"StringNormalizer", "StringConcat", "StringSplit", "RegexFullMatch",
              "TfIdfVectorizer", "LabelEncoder"}
SEQUENCE_OPS = {"SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase",
                "SequenceInsert", "SequenceLength", "SequenceMap", "SplitToSequence",
                "ConcatFromSequence"}
OPTIONAL_OPS = {"Optional", "OptionalHasElement", "OptionalGetElement"}
LOW_BIT = {onnx.TensorProto.FLOAT8E4M3FN, onnx.TensorProto.FLOAT8E4M3FNUZ,
           onnx.TensorProto.FLOAT8E5M2, onnx.TensorProto.FLOAT8E5M2FNUZ,
           onnx.TensorProto.INT4, onnx.TensorProto.UINT4}
for _n in ("FLOAT4E2M1", "FLOAT8E8M0", "INT2", "UINT2"):
    if hasattr(onnx.TensorProto, _n):
        LOW_BIT.add(getattr(onnx.TensorProto, _n))


# --------------------------------------------------------------------------
# Test sources


def generated_source(cache):
    """The installed onnx's node tests, written out once per onnx version."""
    root = os.path.join(cache, "onnx-node-%s" % onnx.__version__)
    stamp = os.path.join(root, ".complete")
    if not os.path.exists(stamp):
        import warnings
        import onnx.backend.test.case.node as node_cases
        tmp = root + ".tmp%d" % os.getpid()
        shutil.rmtree(tmp, ignore_errors=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cases = node_cases.collect_testcases()
        for case in cases:
            d = os.path.join(tmp, case.name)
            os.makedirs(d)
            with open(os.path.join(d, "model.onnx"), "wb") as f:
                f.write(case.model.SerializeToString())
            with open(os.path.join(d, "tolerance"), "w") as f:
                f.write("%r %r\n" % (case.rtol, case.atol))
            for i, (ins, outs) in enumerate(case.data_sets):
                ds = os.path.join(d, "test_data_set_%d" % i)
                os.makedirs(ds)
                for kind, values, decls in (("input", ins, case.model.graph.input),
                                            ("output", outs, case.model.graph.output)):
                    for j, v in enumerate(values):
                        with open(os.path.join(ds, "%s_%d.pb" % (kind, j)), "wb") as f:
                            f.write(serialize_value(v, decls[j]))
        open(os.path.join(tmp, ".complete"), "w").close()
        shutil.rmtree(root, ignore_errors=True)
        os.rename(tmp, root)
    return root


def serialize_value(v, decl):
    t = decl.type
    if t.HasField("sequence_type"):
        return numpy_helper.from_list(v, decl.name).SerializeToString()
    if t.HasField("optional_type"):
        return numpy_helper.from_optional(v, decl.name).SerializeToString()
    if t.HasField("map_type"):
        return numpy_helper.from_dict(v, decl.name).SerializeToString()
    if isinstance(v, onnx.TensorProto):
        return v.SerializeToString()
    return numpy_helper.from_array(v, decl.name).SerializeToString()


def collect(sources, cache, pattern):
    tests = []  # (source, name, dir)
    for src in sources:
        root = DEBIAN if src == "onnx-1.12" else generated_source(cache)
        for d in sorted(glob.glob(os.path.join(root, "test_*"))):
            name = os.path.basename(d)
            if pattern and not re.search(pattern, name):
                continue
            if os.path.exists(os.path.join(d, "model.onnx")):
                tests.append((src, name, d))
    return tests


# --------------------------------------------------------------------------
# Compiling: `mlc compile --batch`, restarted after a crash or a hang


def compile_all(mlc, work, tests, jobs):
    """Returns {dir: (status, message)} with status ok|error|internal|crash|hang."""
    results = {}
    chunks = [tests[i::jobs] for i in range(jobs)]

    def run_chunk(idx, chunk):
        todo = [(d, os.path.join(work, src, name, "model.so")) for src, name, d in chunk]
        while todo:
            lst = os.path.join(work, "batch-%d.txt" % idx)
            with open(lst, "w") as f:
                for d, so in todo:
                    os.makedirs(os.path.dirname(so), exist_ok=True)
                    f.write("%s %s\n" % (os.path.join(d, "model.onnx"), so))
            p = subprocess.Popen([mlc, "compile", "--batch", lst], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            lines = queue.Queue()
            threading.Thread(target=lambda: [lines.put(l) for l in p.stdout] + [lines.put(None)],
                             daemon=True).start()
            done, current = 0, None
            while True:
                try:
                    line = lines.get(timeout=COMPILE_TIMEOUT)
                except queue.Empty:
                    p.kill()
                    results[todo[done][0]] = ("hang", "no result after %d s" % COMPILE_TIMEOUT)
                    done += 1
                    break
                if line is None:
                    p.wait()
                    if current is not None:
                        results[todo[done][0]] = ("crash", "compiler exit status %d" % p.returncode)
                        done += 1
                    break
                kind, _, rest = line.rstrip("\n").partition(" ")
                if kind == "begin":
                    current = rest
                    continue
                model, _, msg = rest.partition(" ")
                results[todo[done][0]] = (kind, msg)
                done, current = done + 1, None
            p.stdout.close()
            todo = todo[done:]

    with cf.ThreadPoolExecutor(jobs) as ex:
        list(ex.map(lambda ic: run_chunk(*ic), enumerate(chunks)))
    return results


# --------------------------------------------------------------------------
# Running and comparing


def tolerance(d):
    p = os.path.join(d, "tolerance")
    if os.path.exists(p):
        r, a = open(p).read().split()
        return float(r), float(a)
    return 1e-3, 1e-7


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def compare(got, want, rtol, atol):
    # A narrow type (ml_dtypes' float8, int4, ...) comes back from mlc's
    # .npy as opaque bytes of the same size: read them as the expected type.
    if got.dtype.kind == "V" and got.dtype.itemsize == want.dtype.itemsize:
        got = got.view(want.dtype)
    if got.shape != want.shape:
        return "shape %s, expected %s" % (got.shape, want.shape)
    if want.dtype.kind in "iub" or got.dtype.kind in "iub":
        if got.dtype != want.dtype:
            return "dtype %s, expected %s" % (got.dtype, want.dtype)
        if not np.array_equal(got, want):
            return "differs (%d of %d elements)" % (np.count_nonzero(got != want), got.size)
        return None
    if got.dtype != want.dtype:
        return "dtype %s, expected %s" % (got.dtype, want.dtype)
    if want.dtype.name == "bfloat16":
        rtol = max(rtol, 2**-6)  # two bfloat16 ULPs, as ONNX's backend runner allows
    g, w = got.astype(np.float64), want.astype(np.float64)
    if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
        with np.errstate(invalid="ignore"):
            err = np.nanmax(np.abs(g - w)) if g.size else 0.0
        return "differs (max abs %.3g)" % err
    return None


def run_test(mlc, work, src, name, d):
    wd = os.path.join(work, src, name)
    so = os.path.join(wd, "model.so")
    m = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    inputs = [i.name for i in m.graph.input if i.name not in inits]
    outputs = [o.name for o in m.graph.output]
    rtol, atol = tolerance(d)
    for ds in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
        out = os.path.join(wd, "out")
        shutil.rmtree(out, ignore_errors=True)
        args = [mlc, "run", so, "--output-dir", out]
        for k, inp in enumerate(inputs):
            args += ["--input", "%s=%s" % (inp, os.path.join(ds, "input_%d.pb" % k))]
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            return "run: hang (over %d s)" % RUN_TIMEOUT
        if r.returncode != 0:
            msg = (r.stderr.strip().splitlines() or ["exit status %d" % r.returncode])[0]
            return "run: " + msg
        for k, o in enumerate(outputs):
            try:
                want = read_pb(os.path.join(ds, "output_%d.pb" % k))
            except Exception as e:  # sequences, optionals, dtypes numpy lacks
                return "expected output %s unreadable: %s" % (o, e)
            path = os.path.join(out, o.replace("/", "_") + ".npy")
            if not os.path.exists(path):
                return "output %s not written" % o
            why = compare(np.load(path), want, rtol, atol)
            if why:
                return "output %s %s" % (o, why)
    return None


# --------------------------------------------------------------------------
# Categories of failures


def category(d):
    m = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
    ops = {n.op_type for n in m.graph.node}
    domains = {n.domain for n in m.graph.node}
    types = [v.type for v in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info)]
    if ops & TRAINING_OPS or "ai.onnx.preview.training" in domains:
        return "training-op"
    elem = set()
    for t in types:
        if t.HasField("sequence_type"):
            return "sequence-type"
        if t.HasField("optional_type"):
            return "optional-type"
        if t.HasField("map_type"):
            return "map-type"
        elem.add(t.tensor_type.elem_type)
    elem |= {i.data_type for i in m.graph.initializer}
    for n in m.graph.node:
        for a in n.attribute:
            if a.HasField("t"):
                elem.add(a.t.data_type)
            if a.name == "to":
                elem.add(a.i)
    if ops & SEQUENCE_OPS:
        return "sequence-type"
    if ops & OPTIONAL_OPS:
        return "optional-type"
    if onnx.TensorProto.STRING in elem or ops & STRING_OPS:
        return "string-type"
    if elem & LOW_BIT:
        return "low-bit-type"
    return "not-yet"


def summarize(results):
    """Per operator: tests containing it, passes, and the opsets and input
    dtypes of the passing ones (for docs/operators.md)."""
    per_op = {}
    for (src, name), (d, why) in sorted(results.items()):
        m = onnx.load(os.path.join(d, "model.onnx"), load_external_data=False)
        opset = max([o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] or [0])
        inits = {i.name for i in m.graph.initializer}
        dtypes = {onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type).name
                  for i in m.graph.input
                  if i.name not in inits and i.type.HasField("tensor_type")
                  and i.type.tensor_type.elem_type not in (0, onnx.TensorProto.STRING)}
        for op in {n.op_type for n in m.graph.node} - {"Constant"}:
            e = per_op.setdefault(op, {"tests": 0, "passed": 0, "opsets": set(), "dtypes": set()})
            e["tests"] += 1
            if why is None:
                e["passed"] += 1
                e["opsets"].add(opset)
                e["dtypes"] |= dtypes
    import json
    with open(SUMMARY, "w") as f:
        json.dump({op: {"tests": e["tests"], "passed": e["passed"],
                        "opsets": sorted(e["opsets"]), "dtypes": sorted(e["dtypes"])}
                   for op, e in sorted(per_op.items())}, f, indent=1, sort_keys=True)
        f.write("\n")


def read_xfail():
    out = {}
    if os.path.exists(XFAIL):
        for line in open(XFAIL):
            if line.strip() and not line.startswith("#"):
                src, name, cat, *why = line.split()
                out[(src, name)] = (cat, " ".join(why))
    return out


def write_xfail(entries):
    with open(XFAIL, "w") as f:
        f.write("# ONNX node tests that mlc does not pass yet: SOURCE TEST CATEGORY REASON.\n"
                "# Written by node_tests.py --update; the suite fails when one of these\n"
                "# passes (remove it) or a test not listed fails.\n")
        for (src, name), (cat, why) in sorted(entries.items()):
            f.write("%s %s %s %s\n" % (src, name, cat, why))


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/mlc-models"))
    ap.add_argument("--source", action="append", choices=["onnx-1.12", "onnx"],
                    help="test source (default: both)")
    ap.add_argument("--filter", help="only tests whose name matches this regex")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--update", action="store_true", help="rewrite the expected failures")
    ap.add_argument("--show", action="store_true", help="print every failure")
    a = ap.parse_args()
    sources = a.source or ["onnx-1.12", "onnx"]
    if not os.path.isdir(DEBIAN) and "onnx-1.12" in sources:
        sys.exit("libonnx-testdata is not installed (%s)" % DEBIAN)
    t0 = time.time()
    tests = collect(sources, a.cache, a.filter)
    label = {s: s if s != "onnx" else "onnx-%s" % onnx.__version__ for s in sources}
    os.makedirs(a.work, exist_ok=True)
    compiled = compile_all(a.mlc, a.work, [(label[s], n, d) for s, n, d in tests], a.jobs)
    t1 = time.time()

    def one(t):
        src, name, d = t
        kind, msg = compiled.get(d, ("crash", "no result"))
        if kind != "ok":
            return "compile %s: %s" % (kind, msg)
        return run_test(a.mlc, a.work, label[src], name, d)

    with cf.ThreadPoolExecutor(a.jobs) as ex:
        why = list(ex.map(one, tests))
    t2 = time.time()

    xfail = read_xfail()
    results = {(label[s], n): (d, w) for (s, n, d), w in zip(tests, why)}
    unexpected_fail, unexpected_pass = [], []
    counts = collections.Counter()
    for key, (d, w) in sorted(results.items()):
        counts[(key[0], w is None)] += 1
        if w is None and key in xfail:
            unexpected_pass.append(key)
        elif w is not None and key not in xfail:
            unexpected_fail.append((key, w))
        if w is not None and a.show:
            print("FAIL %s/%s: %s" % (key[0], key[1], w))
    if a.update:
        kept = {k: v for k, v in xfail.items() if k not in results}
        for key, (d, w) in results.items():
            if w is not None:
                cat = xfail[key][0] if key in xfail else category(d)
                kept[key] = (cat, w.replace("\n", " ")[:160])
        write_xfail(kept)
        xfail = kept
        if not a.filter and set(sources) == {"onnx-1.12", "onnx"}:
            summarize(results)
    cats = collections.Counter(v[0] for k, v in xfail.items() if k in results)
    for src in sorted({k[0] for k in results}):
        p, f = counts[(src, True)], counts[(src, False)]
        print("%-12s %4d of %4d passed (%.1f%%)" % (src, p, p + f, 100.0 * p / max(1, p + f)))
    print("expected failures by category: " +
          ", ".join("%s %d" % kv for kv in sorted(cats.items(), key=lambda kv: -kv[1])))
    print("compile %.0f s, run %.0f s" % (t1 - t0, t2 - t1))
    if a.update:
        print("expected failures rewritten: %s" % XFAIL)
        return 0
    for key, w in unexpected_fail:
        print("UNEXPECTED FAILURE %s/%s: %s" % (key[0], key[1], w))
    for key in unexpected_pass:
        print("UNEXPECTED PASS %s/%s (remove it from %s)" % (key[0], key[1],
                                                             os.path.basename(XFAIL)))
    return 1 if unexpected_fail or unexpected_pass else 0


if __name__ == "__main__":
    sys.exit(main())
