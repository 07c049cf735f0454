//===- Importer.h - ONNX ModelProto to the mlc dialect ----------*- C++ -*-===//
#ifndef MLC_COMPILER_IMPORT_IMPORTER_H
#define MLC_COMPILER_IMPORT_IMPORTER_H

#include "absl/status/statusor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <map>
#include <string>
#include <vector>

namespace onnx {
class ModelProto;
}

namespace mlc {

struct ImportOptions {
  /// Fixes symbolic input dims: input name (or dim_param name) -> shape.
  std::map<std::string, std::vector<int64_t>> shapes;
};

/// Reads `path` (and its external data) and builds a module holding
/// `func.func @main` in the mlc dialect. Every unsupported node is listed in
/// the returned error, not just the first.
absl::StatusOr<mlir::OwningOpRef<mlir::ModuleOp>>
importOnnxFile(mlir::MLIRContext &ctx, const std::string &path,
               const ImportOptions &options = {});

/// The same for a model already parsed; `name` names it in messages and
/// external data is looked up in `dir`.
absl::StatusOr<mlir::OwningOpRef<mlir::ModuleOp>>
importOnnxModel(mlir::MLIRContext &ctx, const onnx::ModelProto &model, const std::string &name,
                const std::string &dir, const ImportOptions &options = {});

/// What `mlc inspect` prints for an .onnx file.
struct ModelSummary {
  struct Tensor {
    std::string name, dtype;
    std::vector<std::string> dims; // a number or a symbolic name
  };
  std::vector<Tensor> inputs, outputs;
  std::map<std::string, int> opHistogram;
  int64_t parameters = 0;
  int64_t weightBytes = 0;               // of the initializers
  int64_t opset = 0;
  std::string producer;
  std::vector<std::string> unsupported; // "name (Op, opset N): reason"
};
absl::StatusOr<ModelSummary> summarizeOnnxFile(const std::string &path);

/// Loads the dialects the importer produces.
void loadImportDialects(mlir::MLIRContext &ctx);

} // namespace mlc

#endif
