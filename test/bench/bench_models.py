"""mlc against onnxruntime (and OpenVINO where installed), measured in one
process, interleaved, at 1 and 2 threads (onnxruntime with idle spinning
off, so that its idle workers do not take the cores of the engine timed
next).

Not a test: prints, per model and thread count, the median latency of each
engine, the ratio mlc / onnxruntime (below 1 means mlc is faster), mlc's
2-thread speed-up over its own 1-thread run, and mlc's compile time and the
compiler's peak RSS. Models: ResNet-50, MobileNetV2, a BERT-base encoder, the
GPT decoder at 1x128 (from test/e2e/torch_models.py, exports cached) and a
1024^3 fp32 MatMul with a constant right-hand side. Usage:
  bench_models.py --mlc build/bin/mlc [--threads 1,2] [--iterations 20] [--only resnet50,...]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

import mlc  # the Python package (pip install .)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import torch_models  # noqa: E402

BENCH_MODELS = ["resnet18", "resnet50", "mobilenet_v2", "bert_base", "gpt", "matmul1024"]


def matmul_model(path):
    """Y = X @ W, X: 1024x1024 input, W: 1024x1024 constant."""
    if os.path.exists(path):
        return path
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "matmul1024",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1024, 1024])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1024, 1024])],
        [numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    tmp = path + ".tmp"
    onnx.save(m, tmp)
    os.replace(tmp, path)
    return path


def model_and_inputs(name, cache):
    if name == "matmul1024":
        path = matmul_model(os.path.join(cache, "matmul1024.onnx"))
        return path, [np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)]
    for mname, builder, inputs, dynamic, sizes, kind in torch_models.MODELS:
        if mname == name:
            path = torch_models.cached_export(cache, name, builder, 13, inputs, dynamic)
            shapes = sizes[0] if dynamic is None else [(1, 128)]
            return path, torch_models.make_inputs(kind, shapes, np.random.default_rng(0))
    raise SystemExit("unknown model " + name)


def compile_mlc(mlc, onnx_path, so):
    """Compiles; returns (seconds, the compiler's peak memory in MB as
    `mlc compile -v` reports it: its own image, not this Python process's)."""
    t0 = time.perf_counter()
    r = subprocess.run([mlc, "compile", onnx_path, "-o", so, "-v", "--no-cache"], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit("mlc compile failed for %s:\n%s" % (onnx_path, r.stderr))
    peak = float("nan")
    for line in r.stderr.splitlines():
        if line.startswith("mlc: peak memory"):
            peak = float(line.split()[-2])
    return seconds, peak


def interleaved_medians(fns, warmup, iterations):
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(iterations):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append((time.perf_counter() - t0) * 1000)
    return [float(np.median(t)) for t in times]


def openvino_runner(onnx_path, feeds, threads):
    try:
        import openvino as ov
    except ImportError:
        return None
    core = ov.Core()
    compiled = core.compile_model(onnx_path, "CPU", {"INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()
    return lambda: request.infer(feeds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mlc", required=True)
    ap.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "mlc-models"))
    ap.add_argument("--work", default="/tmp/mlc-bench")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--markdown", default="",
                    help="also write the results into this page's table (docs/models.md)")
    a = ap.parse_args()
    rows = []
    import onnxruntime as ort
    os.makedirs(a.work, exist_ok=True)
    thread_counts = [int(t) for t in a.threads.split(",")]
    names = [n for n in a.only.split(",") if n] or BENCH_MODELS
    try:
        import openvino  # noqa: F401
        has_ov = True
    except ImportError:
        has_ov = False
    head = "%-13s %3s %9s %9s %8s" % ("model", "thr", "mlc ms", "ort ms", "mlc/ort")
    if has_ov:
        head += " %9s %8s" % ("ov ms", "mlc/ov")
    head += " %9s %9s %10s" % ("mlc 2t/1t", "compile s", "cc RSS MB")
    print(head)
    for name in names:
        onnx_path, feeds = model_and_inputs(name, a.cache)
        so = os.path.join(a.work, name + ".so")
        compile_s, rss_mb = compile_mlc(a.mlc, onnx_path, so)
        first = None
        for threads in thread_counts:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            # Interleaved runs: an engine whose idle workers spin steals the
            # other engine's cores, so onnxruntime's workers sleep when idle
            # (as mlc's do after a short bounded spin).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            ref = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
            named = {i.name: f for i, f in zip(ref.get_inputs(), feeds)}
            sess = mlc.load(so, threads=threads)
            fns = [lambda: sess.run(feeds), lambda: ref.run(None, named)]
            ov = openvino_runner(onnx_path, named, threads) if has_ov else None
            if ov:
                fns.append(ov)
            medians = interleaved_medians(fns, a.warmup, a.iterations)
            del sess
            mlc_ms, ort_ms = medians[0], medians[1]
            if first is None:
                first = mlc_ms
            line = "%-13s %3d %9.2f %9.2f %8.2f" % (name, threads, mlc_ms, ort_ms, mlc_ms / ort_ms)
            if has_ov:
                line += (" %9.2f %8.2f" % (medians[2], mlc_ms / medians[2])) if ov else " %9s %8s" % ("-", "-")
            line += " %9.2f %9.1f %10.0f" % (mlc_ms / first, compile_s, rss_mb)
            print(line, flush=True)
            rows.append((name, threads, mlc_ms, ort_ms, compile_s))
    if a.markdown:
        write_markdown(a.markdown, rows, a)


def write_markdown(path, rows, a):
    """Replaces the table between `<!-- bench_models table -->` and
    `<!-- end -->` in `path` with this run's figures."""
    import datetime
    import platform
    import re
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    table = ["| model | threads | mlc ms | onnxruntime ms | mlc / ort | compile s |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for name, threads, mlc_ms, ort_ms, compile_s in rows:
        table.append("| %s | %d | %.2f | %.2f | %.2f | %.1f |"
                     % (name, threads, mlc_ms, ort_ms, mlc_ms / ort_ms, compile_s))
    table.append("")
    table.append("Measured %s on %s (%d CPUs) with `test/bench/bench_models.py --iterations %d "
                 "--markdown docs/models.md`: median of interleaved runs, onnxruntime %s; compile "
                 "time with every core." % (datetime.date.today().isoformat(), cpu, os.cpu_count(),
                                            a.iterations, __import__("onnxruntime").__version__))
    text = open(path).read()
    new, n = re.subn(r"(<!-- bench_models table -->\n).*?(<!-- end -->)",
                     lambda m: m.group(1) + "\n".join(table) + "\n" + m.group(2), text, flags=re.S)
    if n != 1:
        raise SystemExit("%s has no <!-- bench_models table --> ... <!-- end --> block" % path)
    open(path, "w").write(new)


if __name__ == "__main__":
    sys.exit(main())
