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
