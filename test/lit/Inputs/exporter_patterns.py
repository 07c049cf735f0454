"""Small models with patterns real exporters write, for verify tests.

  python exporter_patterns.py neg_slice OUT.onnx   Slice with negative steps
                                                   (torch's reflect pad)
  python exporter_patterns.py decoder OUT.onnx     ConvTranspose (groups,
      stride 2, output_padding), bilinear and nearest Resize, reflect Pad,
      CumSum, ArgMax: a decoder-like torch export
  python exporter_patterns.py recurrent OUT.onnx   torch's nn.LSTM (2 layers,
      bidirectional, batch_first) and nn.GRU with symbolic batch and time
  python exporter_patterns.py scatter OUT.onnx   torch index_put (a cache
      update, ScatterND), scatter_add and scatter (ScatterElements)
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def neg_slice(out):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [5, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
             [("s", [4, -1]), ("e", [0, -100]), ("a", [0, 1]), ("st", [-2, -3])]]
    g = helper.make_graph([helper.make_node("Slice", ["x", "s", "e", "a", "st"], ["y"])],
                          "g", [x], [y], inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), out)


def decoder(out):
    import torch

    class M(torch.nn.Module):
        def __init__(s):
            super().__init__()
            s.ct = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                            groups=2)
            s.ct2 = torch.nn.ConvTranspose2d(6, 3, 4, stride=2, padding=1)

        def forward(s, x):
            y = torch.nn.functional.leaky_relu(s.ct(x), 0.1)
            y = torch.nn.functional.interpolate(y, scale_factor=2, mode="bilinear",
                                                align_corners=False)
            z = torch.nn.functional.pad(s.ct2(y), (1, 2, 3, 0), mode="reflect")
            return (torch.nn.functional.interpolate(z, size=(40, 30), mode="nearest"),
                    torch.cumsum(z, 2).argmax(1))

    torch.manual_seed(0)
    torch.onnx.export(M().eval(), torch.randn(1, 4, 5, 7), out, opset_version=17)


def recurrent(out):
    import torch

    class M(torch.nn.Module):
        def __init__(s):
            super().__init__()
            s.lstm = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)
            s.gru = torch.nn.GRU(32, 12)

        def forward(s, x):
            y, (h, c) = s.lstm(x)
            z, hz = s.gru(y.transpose(0, 1))
            return z, h, c, hz

    torch.manual_seed(0)
    torch.onnx.export(M().eval(), torch.randn(2, 5, 8), out, opset_version=17,
                      input_names=["x"],
                      dynamic_axes={"x": {0: "batch", 1: "time"}})


def scatter(out):
    import torch

    class M(torch.nn.Module):
        def forward(s, cache, pos, new, idx, src):
            c = cache.clone()
            c[:, pos] = new
            z = torch.zeros(src.shape[0], 6).scatter_add(1, idx, src)
            m = torch.full((src.shape[0], 6), -1.0).scatter(1, idx, src)
            return c, z, m

    args = (torch.randn(2, 8, 4), torch.tensor([5, 2]), torch.randn(2, 2, 4),
            torch.tensor([[0, 5, 0], [3, 3, 1]]), torch.randn(2, 3))
    torch.onnx.export(M().eval(), args, out, opset_version=17,
                      input_names=["cache", "pos", "new", "idx", "src"],
                      dynamic_axes={"cache": {1: "len"}, "idx": {0: "n"}, "src": {0: "n"}})


if __name__ == "__main__":
    {"neg_slice": neg_slice, "decoder": decoder,
     "recurrent": recurrent, "scatter": scatter}[sys.argv[1]](sys.argv[2])
