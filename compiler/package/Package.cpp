//===- Package.cpp - the model.so: entry table and link ------------------===//
#include "compiler/package/Package.h"
#include "mlc/abi.h"
#include "mlc/artifact.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cstring>

using namespace llvm;
using namespace mlc;

namespace {

struct TableBuilder {
  Module &m;
  LLVMContext &ctx;
  Type *i32, *i64, *ptr;
  int counter = 0;

  explicit TableBuilder(Module &m)
      : m(m), ctx(m.getContext()), i32(Type::getInt32Ty(ctx)),
        i64(Type::getInt64Ty(ctx)), ptr(PointerType::get(ctx, 0)) {}

  Constant *global(Constant *init, const char *prefix) {
    auto *g = new GlobalVariable(m, init->getType(), /*isConstant=*/true,
                                 GlobalValue::PrivateLinkage, init,
                                 std::string(prefix) + std::to_string(counter++));
    g->setUnnamedAddr(GlobalValue::UnnamedAddr::Global);
    return g;
  }
  Constant *str(const std::string &s) {
    return global(ConstantDataArray::getString(ctx, s), ".mlc.str");
  }
  Constant *i64Array(const std::vector<int64_t> &v) {
    if (v.empty())
      return ConstantPointerNull::get(cast<PointerType>(ptr));
    return global(ConstantDataArray::get(ctx, ArrayRef<int64_t>(v)), ".mlc.dims");
  }
  Constant *strArray(const std::vector<std::string> &v) {
    if (v.empty())
      return ConstantPointerNull::get(cast<PointerType>(ptr));
    std::vector<Constant *> items;
    for (const auto &s : v)
      items.push_back(str(s));
    auto *t = ArrayType::get(ptr, items.size());
    return global(ConstantArray::get(t, items), ".mlc.names");
  }
  Constant *tensors(const std::vector<TensorSignature> &ts) {
    auto *st = StructType::get(ctx, {ptr, i32, i32, ptr, ptr});
    std::vector<Constant *> items;
    for (const auto &t : ts)
      items.push_back(ConstantStruct::get(
          st, {str(t.name), ConstantInt::get(i32, t.dtype),
               ConstantInt::get(i32, t.dims.size()), i64Array(t.dims),
               strArray(t.dimNames)}));
    if (items.empty())
      return ConstantPointerNull::get(cast<PointerType>(ptr));
    return global(ConstantArray::get(ArrayType::get(st, items.size()), items),
                  ".mlc.tensors");
  }
};

} // namespace

void mlc::addEntryTable(Module &m, const ModelSignature &sig,
                        const std::string &entry) {
  TableBuilder tb(m);
  LLVMContext &ctx = m.getContext();
  Function *impl = m.getFunction(entry);
  // run(ctx, results, args): impl([results,] ctx, args[0], ..., args[n])
  // with the arena as the last argument.
  auto *runTy = FunctionType::get(Type::getVoidTy(ctx), {tb.ptr, tb.ptr, tb.ptr}, false);
  Function *run = Function::Create(runTy, GlobalValue::InternalLinkage,
                                   "mlc_run", m);
  {
    IRBuilder<> b(BasicBlock::Create(ctx, "entry", run));
    std::vector<Value *> args;
    bool hasResults = impl->arg_size() > sig.inputs.size() + 2;
    if (hasResults)
      args.push_back(run->getArg(1));
    args.push_back(run->getArg(0));
    for (size_t i = 0; i < sig.inputs.size() + 1; ++i) {
      Value *slot = b.CreateConstGEP1_64(tb.ptr, run->getArg(2), i);
      args.push_back(b.CreateLoad(tb.ptr, slot));
    }
    b.CreateCall(impl, args);
    b.CreateRetVoid();
  }
  Constant *kernels = ConstantPointerNull::get(cast<PointerType>(tb.ptr));
  if (!sig.kernels.empty()) {
    auto *kt = StructType::get(ctx, {tb.ptr, tb.i64});
    std::vector<Constant *> items;
    for (const KernelSignature &k : sig.kernels)
      items.push_back(ConstantStruct::get(
          kt, {tb.str(k.name), ConstantInt::get(tb.i64, k.flops)}));
    kernels = tb.global(ConstantArray::get(ArrayType::get(kt, items.size()), items),
                        ".mlc.kernels");
  }
  auto *modelTy = StructType::get(ctx, {tb.i32, tb.i32, tb.i32, tb.i32, tb.ptr, tb.ptr,
                                        tb.i64, tb.i64, tb.ptr, tb.ptr, tb.ptr,
                                        tb.ptr, tb.ptr, tb.ptr, tb.ptr});
  Constant *table = ConstantStruct::get(
      modelTy,
      {ConstantInt::get(tb.i32, MLC_ABI_VERSION),
       ConstantInt::get(tb.i32, sig.inputs.size()),
       ConstantInt::get(tb.i32, sig.outputs.size()),
       ConstantInt::get(tb.i32, sig.kernels.size()),
       tb.tensors(sig.inputs), tb.tensors(sig.outputs),
       ConstantInt::get(tb.i64, sig.arenaSize), ConstantInt::get(tb.i64, 64),
       tb.str(sig.compilerVersion), tb.str(sig.compileOptions), tb.str(sig.target),
       tb.str(sig.cpuName), tb.str(sig.cpuFeatures), run, kernels});
  // Exported as data too, so that tools read the description from the file
  // without running the model's code (mlc_model_load_info).
  auto *tableVar = new GlobalVariable(m, table->getType(), /*isConstant=*/true,
                                      GlobalValue::ExternalLinkage, table, MLC_ABI_TABLE);
  tableVar->setVisibility(GlobalValue::DefaultVisibility);

  // The entry function. Compiled for the baseline ISA so that the
  // runtime can call it on any x86-64 CPU before checking features.
  auto *entryTy = FunctionType::get(tb.ptr, {}, false);
  Function *getter = Function::Create(entryTy, GlobalValue::ExternalLinkage,
                                      MLC_ABI_ENTRY, m);
  getter->setVisibility(GlobalValue::DefaultVisibility);
  getter->addFnAttr("target-cpu", "x86-64");
  getter->addFnAttr("target-features", "");
  IRBuilder<> b(BasicBlock::Create(ctx, "entry", getter));
  b.CreateRet(tableVar);

  for (Function &f : m)
    if (!f.isDeclaration() && &f != getter)
      f.setLinkage(GlobalValue::InternalLinkage);
}

/// Appends the integrity trailer (mlc/artifact.h) to the linked library.
static bool appendTrailer(const std::string &path, std::string &err) {
  auto file = MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!file) {
    err = "cannot read the linked library: " + file.getError().message();
    return false;
  }
  StringRef bytes = (*file)->getBuffer();
  uint64_t words[3] = {bytes.size(), mlc_artifact_checksum(bytes.data(), bytes.size()), 0};
  char trailer[MLC_ARTIFACT_TRAILER_SIZE];
  std::memcpy(trailer, MLC_ARTIFACT_MAGIC, 8);
  std::memcpy(trailer + 8, words, sizeof words);
  std::error_code ec;
  raw_fd_ostream os(path, ec, sys::fs::OF_Append);
  if (!ec) {
    os.write(trailer, sizeof trailer);
    os.close();
    if (os.has_error())
      ec = os.error();
  }
  if (ec) {
    err = "cannot write the linked library: " + ec.message();
    return false;
  }
  return true;
}

bool mlc::linkSharedLibrary(const std::vector<std::string> &objects,
                            const std::string &output, std::string &err) {
  auto cc = sys::findProgramByName("cc");
  if (!cc) {
    err = "no C compiler driver ('cc') found to link the shared library; "
          "install gcc or clang";
    return false;
  }
  SmallString<128> tmpOut;
  if (auto ec = sys::fs::createTemporaryFile("mlc-link", "so", tmpOut)) {
    err = "cannot create a temporary file: " + ec.message();
    return false;
  }
  std::string errFile = (tmpOut + ".log").str();
  std::vector<StringRef> args = {*cc, "-shared", "-o", tmpOut};
  for (const std::string &o : objects)
    args.push_back(o);
  for (StringRef flag : {"-lm", "-Wl,-z,noexecstack", "-Wl,--hash-style=gnu", "-Wl,-O1"})
    args.push_back(flag);
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(errFile),
                                          StringRef(errFile)};
  int rc = sys::ExecuteAndWait(*cc, args, std::nullopt, redirects, 0, 0, &err);
  if (rc != 0) {
    auto log = MemoryBuffer::getFile(errFile);
    err = "linking failed: " + (log ? (*log)->getBuffer().str() : err);
    sys::fs::remove(errFile);
    sys::fs::remove(tmpOut);
    return false;
  }
  sys::fs::remove(errFile);
  if (!appendTrailer(tmpOut.str().str(), err)) {
    sys::fs::remove(tmpOut);
    return false;
  }
  if (auto ec = sys::fs::rename(tmpOut, output)) {
    // Different file systems: copy instead.
    if (auto ec2 = sys::fs::copy_file(tmpOut, output)) {
      err = "cannot write '" + output + "': " + ec2.message();
      sys::fs::remove(tmpOut);
      return false;
    }
    sys::fs::remove(tmpOut);
  }
  return true;
}
