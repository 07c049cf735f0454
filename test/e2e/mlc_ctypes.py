"""Minimal ctypes access to libmlc_runtime for the test and bench scripts."""
import ctypes
import os

import numpy as np

MAX_RANK = 8
DTYPES = {np.dtype(np.float32): 1, np.dtype(np.float64): 2, np.dtype(np.int64): 4,
          np.dtype(np.int32): 5, np.dtype(np.int8): 7, np.dtype(np.uint8): 8,
          np.dtype(np.bool_): 9}
NP_OF = {v: k for k, v in DTYPES.items()}


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("size_bytes", ctypes.c_size_t),
                ("dtype", ctypes.c_int), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_RANK)]


class Runtime:
    def __init__(self, build_dir):
        self.lib = ctypes.CDLL(os.path.join(build_dir, "runtime", "libmlc_runtime.so"))
        L = self.lib
        L.mlc_last_error.restype = ctypes.c_char_p
        L.mlc_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        L.mlc_model_num_outputs.argtypes = [ctypes.c_void_p]
        L.mlc_model_num_outputs.restype = ctypes.c_size_t
        L.mlc_session_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        L.mlc_session_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.c_size_t,
                                      ctypes.POINTER(Tensor), ctypes.c_size_t]
        L.mlc_tensor_release.argtypes = [ctypes.POINTER(Tensor)]
        L.mlc_session_free.argtypes = [ctypes.c_void_p]
        L.mlc_session_set_num_threads.argtypes = [ctypes.c_void_p, ctypes.c_int32]
        L.mlc_session_num_threads.argtypes = [ctypes.c_void_p]
        L.mlc_session_num_threads.restype = ctypes.c_int32
        L.mlc_model_free.argtypes = [ctypes.c_void_p]

    def check(self, status):
        if status != 0:
            raise RuntimeError(self.lib.mlc_last_error().decode())


class Session:
    """One loaded model and one session; run() takes and returns numpy arrays.

    threads: the session's thread count (None: the runtime's default, i.e.
    $MLC_NUM_THREADS or every CPU this process may use)."""

    def __init__(self, rt, path, threads=None):
        self.rt, L = rt, rt.lib
        self.model = ctypes.c_void_p()
        rt.check(L.mlc_model_load(path.encode(), ctypes.byref(self.model)))
        self.session = ctypes.c_void_p()
        rt.check(L.mlc_session_create(self.model, ctypes.byref(self.session)))
        self.nout = L.mlc_model_num_outputs(self.model)
        if threads is not None:
            self.set_threads(threads)

    def set_threads(self, n):
        """n >= 1 threads for the following runs; 0 restores the default."""
        self.rt.check(self.rt.lib.mlc_session_set_num_threads(self.session, int(n)))

    @property
    def threads(self):
        return self.rt.lib.mlc_session_num_threads(self.session)

    def run(self, *arrays):
        arrays = [np.asarray(a, order='C') for a in arrays]  # keeps 0-d arrays 0-d
        ins = (Tensor * len(arrays))()
        for t, a in zip(ins, arrays):
            t.data = a.ctypes.data
            t.size_bytes = a.nbytes
            t.dtype = DTYPES[a.dtype]
            t.rank = a.ndim
            for i, d in enumerate(a.shape):
                t.shape[i] = d
        outs = (Tensor * self.nout)()
        self.rt.check(self.rt.lib.mlc_session_run(self.session, ins, len(arrays), outs, self.nout))
        result = []
        for t in outs:
            shape = tuple(t.shape[i] for i in range(t.rank))
            dt = NP_OF[t.dtype]
            buf = (ctypes.c_char * t.size_bytes).from_address(t.data)
            result.append(np.frombuffer(buf, dtype=dt).reshape(shape).copy())
            self.rt.lib.mlc_tensor_release(ctypes.byref(t))
        return result

    def close(self):
        self.rt.lib.mlc_session_free(self.session)
        self.rt.lib.mlc_model_free(self.model)
