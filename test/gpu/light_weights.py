"""Copies an ONNX model with its large float weights snapped to 7 levels
(-3..3 times max|w|/3), so that the compiled model compresses well enough to
travel to a GPU machine; the architecture and the order of magnitude of
every weight are kept, so numerics stay representative.

    python3 test/gpu/light_weights.py IN.onnx OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main(src, dst):
    m = onnx.load(src)
    for i, t in enumerate(m.graph.initializer):
        if t.data_type != onnx.TensorProto.FLOAT:
            continue
        w = numpy_helper.to_array(t)
        if w.size < 1024:
            continue
        s = float(np.abs(w).max()) / 3 or 1.0
        q = (np.round(w / s) * s).astype(np.float32)
        m.graph.initializer[i].CopyFrom(numpy_helper.from_array(q, t.name))
    onnx.save(m, dst)


if __name__ == "__main__":
    main(*sys.argv[1:3])
