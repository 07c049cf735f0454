"""The Python package end to end: compile, describe, run (NumPy and torch
through DLPack), errors, threads. Needs the package installed (pip install .)
and the compiler ($MLC_EXECUTABLE or `mlc` on PATH); onnxruntime is the
reference (tolerance: 1e-5 absolute, 1e-4 relative)."""
import os
import threading

import numpy as np
import pytest

import mlc

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MLP = os.path.join(ROOT, "examples", "mlp.onnx")
X = np.load(os.path.join(ROOT, "examples", "x.npy"))


@pytest.fixture(scope="module")
def so(tmp_path_factory):
    return mlc.compile(MLP, str(tmp_path_factory.mktemp("m") / "mlp.so"), cache=False)


def reference(x):
    import onnxruntime as ort
    s = ort.InferenceSession(MLP, providers=["CPUExecutionProvider"])
    return s.run(None, {"x": x})[0]


def test_describe(so):
    m = mlc.load(so)
    assert m.inputs == [mlc.TensorInfo("x", np.dtype(np.float32), ("batch", 16))]
    assert m.outputs == [mlc.TensorInfo("probs", np.dtype(np.float32), ("batch", 4))]
    assert m.metadata["target"] == "cpu" and m.metadata["abi_version"] == "2"
    assert len(m.kernels) >= 1
    ins, outs = mlc.describe(so)  # from the file, no code run
    assert ins == m.inputs and outs == m.outputs


def test_run_matches_onnxruntime(so):
    m = mlc.load(so)
    got = m.run({"x": X})
    assert list(got) == ["probs"]
    np.testing.assert_allclose(got["probs"], reference(X), rtol=1e-4, atol=1e-5)
    # A sequence, one bare array, and a call give the same.
    for out in (m.run([X]), m.run(X), m(X)):
        np.testing.assert_array_equal(out["probs"], got["probs"])


def test_inputs_converted_only_when_needed(so):
    m = mlc.load(so)
    want = reference(X)
    # float64 and a strided view: converted once (same-kind casts).
    np.testing.assert_allclose(m.run(X.astype(np.float64))["probs"], want, rtol=1e-4, atol=1e-5)
    wide = np.zeros((3, 32), np.float32)
    wide[:, ::2] = X
    np.testing.assert_allclose(m.run(wide[:, ::2])["probs"], want, rtol=1e-4, atol=1e-5)
    with pytest.raises(mlc.Error, match="float32"):
        m.run(X.astype(np.complex64))


def test_outputs_own_their_memory(so):
    m = mlc.load(so)
    out = m.run(X)["probs"]
    del m
    import gc
    gc.collect()
    assert out.flags.owndata or out.base is not None
    out += 0  # writeable
    np.testing.assert_allclose(out, reference(X), rtol=1e-4, atol=1e-5)


def test_torch_through_dlpack(so):
    torch = pytest.importorskip("torch")
    m = mlc.load(so)
    t = torch.from_numpy(X.copy())
    out = m.run({"x": t})["probs"]
    back = torch.from_dlpack(out)  # no copy: same memory
    assert back.data_ptr() == out.ctypes.data
    np.testing.assert_allclose(back.numpy(), reference(X), rtol=1e-4, atol=1e-5)


def test_errors(so, tmp_path):
    m = mlc.load(so)
    with pytest.raises(mlc.Error, match="dim 1 must be 16") as e:
        m.run(np.zeros((3, 5), np.float32))
    assert e.value.status == "invalid argument"
    with pytest.raises(mlc.Error, match="unknown input"):
        m.run({"y": X})
    with pytest.raises(mlc.Error, match="missing input"):
        m.run({})
    with pytest.raises(mlc.Error):
        mlc.load(str(tmp_path / "missing.so"))
    bad = tmp_path / "bad.so"
    bad.write_bytes(b"\x7fELF" + b"\0" * 100)
    with pytest.raises(mlc.Error):
        mlc.load(str(bad))
    with pytest.raises(mlc.CompileError, match="cannot read") as ce:
        mlc.compile(str(tmp_path / "missing.onnx"), str(tmp_path / "x.so"))
    assert ce.value.exit_code == 1


def test_compile_options(tmp_path):
    so = mlc.compile(MLP, tmp_path / "b2.so", shapes={"batch": 2}, cpu="x86-64-v2", threads=1,
                     header=tmp_path / "b2.h", cache=False)
    m = mlc.load(so)
    assert m.inputs[0].shape == (2, 16)
    assert m.metadata["cpu"] == "x86-64-v2"
    assert "#define B2_INPUT_0_DIMS {2, 16}" in (tmp_path / "b2.h").read_text()
    np.testing.assert_allclose(m.run(X[:2])["probs"], reference(X[:2]), rtol=1e-4, atol=1e-5)


def test_threads_and_concurrent_runs(so):
    m = mlc.load(so, threads=2)
    assert m.num_threads == 2
    m.num_threads = 1
    assert m.num_threads == 1
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((5, 16)).astype(np.float32) for _ in range(8)]
    want = [m.run(b)["probs"] for b in batches]
    got = [None] * len(batches)

    def work(i):
        for _ in range(20):
            got[i] = m.run(batches[i])["probs"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_narrow_types(tmp_path):
    """float8 and int4 inputs and outputs: ml_dtypes arrays, or their bytes."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    nodes = [helper.make_node("DequantizeLinear", ["q", "s"], ["y"]),
             helper.make_node("Cast", ["y"], ["y8"], to=TensorProto.FLOAT8E4M3FN)]
    g = helper.make_graph(nodes, "narrow", [helper.make_tensor_value_info("q", TensorProto.INT4, [4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4]),
                           helper.make_tensor_value_info("y8", TensorProto.FLOAT8E4M3FN, [4])],
                          [numpy_helper.from_array(np.float32(1.5), "s")])
    path = str(tmp_path / "narrow.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), path)
    m = mlc.load(mlc.compile(path, str(tmp_path / "narrow.so"), cache=False))
    assert m.inputs[0].dtype == np.dtype(ml_dtypes.int4)
    assert m.outputs[1].dtype == np.dtype(ml_dtypes.float8_e4m3fn)
    q = np.array([-8, -1, 0, 7], ml_dtypes.int4)
    want = q.astype(np.float32) * 1.5
    for feed in (q, q.view(np.uint8)):  # ml_dtypes keeps int4's high bits clear
        out = m.run({"q": feed})
        np.testing.assert_array_equal(out["y"], want)
        assert out["y8"].dtype == np.dtype(ml_dtypes.float8_e4m3fn)
        np.testing.assert_array_equal(out["y8"], want.astype(ml_dtypes.float8_e4m3fn))
    with pytest.raises(mlc.Error, match="the model takes int4"):
        m.run({"q": np.zeros(4, np.float32)})


def test_bfloat16(tmp_path):
    """bfloat16 inputs and outputs: ml_dtypes arrays, or their bits as uint16."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    import onnx
    from onnx import TensorProto, helper
    bf = ml_dtypes.bfloat16
    nodes = [helper.make_node("Mul", ["x", "x"], ["y"]),
             helper.make_node("Cast", ["y"], ["f"], to=TensorProto.FLOAT)]
    g = helper.make_graph(nodes, "bf16", [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [3])],
                          [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [3]),
                           helper.make_tensor_value_info("f", TensorProto.FLOAT, [3])])
    path = str(tmp_path / "bf16.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)]), path)
    m = mlc.load(mlc.compile(path, str(tmp_path / "bf16.so"), cache=False))
    assert m.inputs[0].dtype == np.dtype(bf)
    x = np.array([1.5, -3.0, 0.1], bf)
    want = (x.astype(np.float32) ** 2).astype(bf)
    for feed in (x, x.view(np.uint16)):
        out = m.run({"x": feed})
        assert out["y"].dtype == np.dtype(bf)
        np.testing.assert_array_equal(out["y"].astype(np.float32), want.astype(np.float32))
        np.testing.assert_array_equal(out["f"], want.astype(np.float32))
    with pytest.raises(mlc.Error, match="the model takes bfloat16"):
        m.run({"x": np.zeros(3, np.float32)})
