"""mlc: compile ONNX models ahead of time into native libraries, and run them.

    import mlc
    mlc.compile("model.onnx", "model.so", shapes={"batch": 1})
    m = mlc.load("model.so")
    m.inputs                      # [TensorInfo(name='x', dtype=float32, shape=('batch', 16))]
    out = m.run({"x": x})         # {'probs': array(...)}

Inputs may be NumPy arrays or anything with ``__dlpack__`` on the CPU (torch
tensors): contiguous inputs of the model's dtype are used in place, others
are converted once (same-kind casts only). Outputs are NumPy arrays that own
their memory; ``torch.from_dlpack(out)`` takes them without a copy. Runs
release the GIL. Errors raise :class:`mlc.Error` (``status`` says which
kind) or, from the compiler, :class:`mlc.CompileError`.
"""
import os
import shutil
import subprocess
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _mlc

__version__ = "0.3.1"
Error = _mlc.Error


class CompileError(Error):
    """`mlc compile` failed: the message is the compiler's; ``exit_code`` is
    1 for a problem with the model or options, 2 for a bug in mlc."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
        self.status = "compile error" if exit_code == 1 else "internal error"


Dim = Union[int, str, None]


class TensorInfo(NamedTuple):
    """An input or output: a run-time dim is its symbolic name (a str), or
    None when it has none."""
    name: str
    dtype: np.dtype
    shape: Tuple[Dim, ...]


def _dtype(name: str) -> np.dtype:
    """NumPy's dtype for an mlc dtype name; bfloat16 and the narrow types
    (float8, int4, ...) are ml_dtypes' where it is installed, else their
    bytes (uint16 for bfloat16, uint8 for the others)."""
    try:
        return np.dtype(name)
    except TypeError:
        try:
            import ml_dtypes
            return np.dtype(getattr(ml_dtypes, name))
        except (ImportError, AttributeError):
            return np.dtype(np.uint16 if name == "bfloat16" else np.uint8)


# The types NumPy knows only through ml_dtypes.
_NARROW = {"float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "uint4", "int4",
           "float4_e2m1fn", "float8_e8m0fnu", "uint2", "int2", "bfloat16"}


def _info(raw) -> TensorInfo:
    name, dtype, dims, names = raw
    shape = tuple(d if d >= 0 else (n or None) for d, n in zip(dims, names))
    return TensorInfo(name, _dtype(dtype), shape)


def compiler() -> str:
    """The `mlc` executable compile() runs: $MLC_EXECUTABLE, else `mlc` on
    PATH."""
    exe = os.environ.get("MLC_EXECUTABLE") or shutil.which("mlc")
    if not exe:
        raise Error("the mlc compiler was not found: put `mlc` on PATH (cmake --install "
                    "installs it into PREFIX/bin) or set MLC_EXECUTABLE")
    return exe


def compile(model: Union[str, os.PathLike], output: Union[str, os.PathLike, None] = None, *,
            target: str = "cpu", shapes: Optional[Mapping[str, Union[int, Sequence[int]]]] = None,
            cpu: Optional[str] = None, opt_level: int = 3, threads: Optional[int] = None,
            cache: bool = True, header: Union[str, os.PathLike, None] = None,
            verbose: bool = False) -> str:
    """Compiles an ONNX model into a shared library; returns its path.

    shapes: fix an input's shape ({"x": (1, 3, 224, 224)}) or a symbolic
    dim ({"batch": 1}). cpu: the CPU to generate code for (default: this
    machine's). threads: compiler threads (default: every core). cache: use
    the compile cache ($MLC_CACHE_DIR). header: also write the C header of
    mlc_add_model(). The compiler runs in its own process: a crash in it is
    a CompileError, never a crash of this interpreter.
    """
    model = os.fspath(model)
    if output is None:
        output = (model[:-5] if model.endswith(".onnx") else model) + ".so"
    output = os.fspath(output)
    cmd = [compiler(), "compile", model, "-o", output, "--target", target, "-O%d" % opt_level]
    for name, dims in (shapes or {}).items():
        text = str(dims) if isinstance(dims, (int, np.integer)) else "x".join(str(int(d)) for d in dims)
        cmd += ["--shape", "%s=%s" % (name, text)]
    if cpu:
        cmd += ["--cpu", cpu]
    if threads:
        cmd += ["--jobs", str(int(threads))]
    if not cache:
        cmd.append("--no-cache")
    if header is not None:
        cmd += ["--header", os.fspath(header)]
    cmd.append("--verbose" if verbose else "--quiet")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None if verbose else subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        msg = (r.stderr or "").strip()
        for prefix in ("mlc: error: ", "mlc: internal error: "):
            if msg.startswith(prefix):
                msg = msg[len(prefix):]
        if r.returncode < 0:
            msg = "the compiler was killed by signal %d" % -r.returncode
        raise CompileError(msg or "mlc compile failed (exit %d)" % r.returncode,
                           2 if r.returncode != 1 else 1)
    return output


Feeds = Union[Mapping[str, object], Sequence[object], object]


class Model:
    """A compiled model, loaded with a session of its own (see load())."""

    def __init__(self, path: Union[str, os.PathLike], threads: Optional[int] = None):
        self.path = os.fspath(path)
        self._model = _mlc.Model(self.path)
        self._session = _mlc.Session(self._model, int(threads or 0))
        self.inputs: List[TensorInfo] = [_info(t) for t in self._model.inputs()]
        self.outputs: List[TensorInfo] = [_info(t) for t in self._model.outputs()]

    @property
    def num_threads(self) -> int:
        return self._session.num_threads

    @num_threads.setter
    def num_threads(self, n: int) -> None:
        self._session.num_threads = int(n)

    @property
    def metadata(self) -> Dict[str, str]:
        keys = ("compiler_version", "compile_options", "target", "cpu", "cpu_features",
                "abi_version", "arena_size", "num_kernels")
        return {k: v for k in keys for v in [self._model.metadata(k)] if v is not None}

    @property
    def kernels(self) -> List[Tuple[str, int]]:
        """(name, FLOPs per call or -1) of each kernel."""
        return list(self._model.kernels())

    def _array(self, x, info: TensorInfo) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            x = np.from_dlpack(x) if hasattr(x, "__dlpack__") else np.asarray(x)
        if info.dtype.name in _NARROW:
            # ml_dtypes arrays, or their bytes as an unsigned integer of
            # the same size (int8 too for the one-byte types)
            holder = np.dtype("u%d" % info.dtype.itemsize)
            if x.dtype != info.dtype and x.dtype != holder and not (
                    holder == np.uint8 and x.dtype == np.int8):
                raise Error("input '%s' is %s; the model takes %s (an ml_dtypes array or its "
                            "bytes as %s)" % (info.name, x.dtype, info.dtype.name, holder))
            return np.ascontiguousarray(x).view(holder)
        if x.dtype != info.dtype:
            if not np.can_cast(x.dtype, info.dtype, casting="same_kind"):
                raise Error("input '%s' is %s; the model takes %s" % (info.name, x.dtype, info.dtype))
            return np.ascontiguousarray(x, dtype=info.dtype)
        return x if x.flags.c_contiguous else np.ascontiguousarray(x)

    def run(self, feeds: Feeds) -> Dict[str, np.ndarray]:
        """Runs the model: feeds is {name: array}, a sequence in input order,
        or one array for a one-input model. Returns {output name: array}."""
        if isinstance(feeds, Mapping):
            unknown = set(feeds) - {i.name for i in self.inputs}
            if unknown:
                raise Error("unknown input(s) %s; the model takes %s" % (
                    ", ".join(sorted(map(repr, unknown))), ", ".join(repr(i.name) for i in self.inputs)))
            missing = [i.name for i in self.inputs if i.name not in feeds]
            if missing:
                raise Error("missing input(s) %s" % ", ".join(map(repr, missing)))
            values = [feeds[i.name] for i in self.inputs]
        elif isinstance(feeds, (list, tuple)):
            values = list(feeds)
        else:
            values = [feeds]
        if len(values) != len(self.inputs):
            raise Error("the model takes %d input(s), got %d" % (len(self.inputs), len(values)))
        arrays = [self._array(v, i) for v, i in zip(values, self.inputs)]
        outs = self._session.run(arrays)
        return {o.name: a.view(o.dtype) if o.dtype.name in _NARROW else a
                for o, a in zip(self.outputs, outs)}

    __call__ = run

    def __repr__(self) -> str:
        fmt = lambda t: "%s: %s %s" % (t.name, t.dtype, list(t.shape))
        return "<mlc.Model %s inputs=[%s] outputs=[%s]>" % (
            self.path, ", ".join(map(fmt, self.inputs)), ", ".join(map(fmt, self.outputs)))


def load(path: Union[str, os.PathLike], threads: Optional[int] = None) -> Model:
    """Loads a compiled model (checked before any of its code runs) with a
    session on `threads` threads (default: $MLC_NUM_THREADS, or every CPU)."""
    return Model(path, threads)


def describe(path: Union[str, os.PathLike]) -> Tuple[List[TensorInfo], List[TensorInfo]]:
    """The inputs and outputs of a compiled model, read from the file
    without running its code (works where its CPU features are missing)."""
    m = _mlc.Model(os.fspath(path), True)
    return [_info(t) for t in m.inputs()], [_info(t) for t in m.outputs()]


__all__ = ["compile", "load", "describe", "compiler", "Model", "TensorInfo", "Error",
           "CompileError", "__version__"]
