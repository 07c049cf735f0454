# lit configuration for mlc: FileCheck tests run through mlc-opt and mlc.
import os
import lit.formats

config.name = "mlc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.mlc_bin_dir, "..", "test", "lit-out")

config.substitutions.append(("%mlc-opt", os.path.join(config.mlc_bin_dir, "mlc-opt")))
config.substitutions.append(("%mlc", os.path.join(config.mlc_bin_dir, "mlc")))
config.substitutions.append(("%python", config.python))
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
config.substitutions.append(("FileCheck", config.filecheck))
config.substitutions.append(("not ", os.path.join(os.path.dirname(config.filecheck), "not") + " "))
config.environment["PYTHONDONTWRITEBYTECODE"] = "1"
# Tests measure the compiler, not the compile cache (cli/cache.test sets its own).
config.environment["MLC_CACHE_DIR"] = "off"
# The cuda target compiles with the CUDA toolkit's ptxas and libdevice.
import shutil as _shutil
if any(os.path.exists(os.path.join(p, "bin", "ptxas")) and
       os.path.exists(os.path.join(p, "nvvm", "libdevice", "libdevice.10.bc"))
       for p in [os.environ.get("CUDA_HOME", ""), os.environ.get("CUDA_PATH", ""),
                 "/usr/local/cuda"] + ([os.path.dirname(os.path.dirname(os.path.realpath(
                     _shutil.which("ptxas"))))] if _shutil.which("ptxas") else []) if p):
    config.available_features.add("cuda-toolkit")
for _v in ("CUDA_HOME", "CUDA_PATH", "PATH"):
    if _v in os.environ:
        config.environment[_v] = os.environ[_v]
