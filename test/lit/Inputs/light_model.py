"""Prints the path of one of the "light" zoo models the onnx wheel ships
(onnx/backend/test/data/light/light_NAME.onnx): light_model.py NAME."""
import os
import sys

import onnx

print(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light",
                   "light_%s.onnx" % sys.argv[1]))
