//===- CudaRuntimeCalls.cpp - GPU runtime calls through the context ------===//
//
// MLIR's GPU lowering calls a fixed set of runtime functions (mgpu*: load a
// module, get a kernel, create a stream, launch, synchronise) and, with
// generic allocation functions, _mlir_memref_to_llvm_alloc/free for every
// buffer. A CUDA model must link against nothing but libc, so each of these
// becomes a call through ctx->cuda (mlc/abi.h), the function's first
// argument. Streams disappear: every launch runs on the session's stream,
// in order, and the runtime synchronises once per run. The host's reads of
// constants (weights) become ctx->cuda->constant, which hands back the
// device copy.
//
//===----------------------------------------------------------------------===//
#include "codegen/cuda/CudaCodegen.h"
#include "mlc/abi.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/ReplaceConstant.h"

#include <cstddef>
#include <map>

using namespace llvm;
using namespace mlc;

namespace {

static_assert(offsetof(mlc_exec_ctx, cuda) == 48, "ctx layout");
static_assert(offsetof(mlc_cuda_api, module_load) == 8, "cuda api layout");
static_assert(offsetof(mlc_cuda_api, constant) == 48, "cuda api layout");
static_assert(offsetof(mlc_cuda_api, read) == 56, "cuda api layout");
static_assert(offsetof(mlc_cuda_api, gemm) == 64, "cuda api layout");
constexpr unsigned kCudaField = 7;
enum ApiField : unsigned {
  kModuleLoad = 2,
  kModuleFunction = 3,
  kLaunch = 4,
  kAlloc = 5,
  kFree = 6,
  kConstant = 7,
  kRead = 8,
  kGemm = 9
};

struct Rewriter {
  Module &m;
  LLVMContext &c;
  Type *ptr, *i64, *i32, *voidTy;
  StructType *ctxTy, *apiTy;
  std::string &err;

  Rewriter(Module &m, std::string &err)
      : m(m), c(m.getContext()), ptr(PointerType::get(c, 0)), i64(Type::getInt64Ty(c)),
        i32(Type::getInt32Ty(c)), voidTy(Type::getVoidTy(c)), err(err) {
    ctxTy = StructType::get(c, {i32, i32, ptr, ptr, ptr, ptr, ptr, ptr});
    apiTy = StructType::get(c, {i32, i32, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr});
  }

  Value *contextOf(Instruction *at) {
    Function *f = at->getFunction();
    if (f->arg_size() == 0 || !f->getArg(0)->getType()->isPointerTy()) {
      err = "function '" + f->getName().str() + "' calls the GPU runtime without a context";
      return nullptr;
    }
    return f->getArg(0);
  }

  /// ctx->cuda->field(ctx, args...), before `at`.
  CallInst *callApi(Instruction *at, unsigned field, Type *ret, ArrayRef<Value *> args) {
    Value *ctx = contextOf(at);
    if (!ctx)
      return nullptr;
    IRBuilder<> b(at);
    Value *api = b.CreateLoad(ptr, b.CreateStructGEP(ctxTy, ctx, kCudaField), "cuda");
    Value *fn = b.CreateLoad(ptr, b.CreateStructGEP(apiTy, api, field));
    SmallVector<Type *> types = {ptr};
    SmallVector<Value *> all = {ctx};
    for (Value *a : args) {
      types.push_back(a->getType());
      all.push_back(a);
    }
    return b.CreateCall(FunctionType::get(ret, types, false), fn, all);
  }

  SmallVector<CallInst *> callsTo(StringRef name) {
    SmallVector<CallInst *> calls;
    if (Function *f = m.getFunction(name))
      for (User *u : f->users())
        if (auto *call = dyn_cast<CallInst>(u))
          calls.push_back(call);
    return calls;
  }

  /// Replaces each call of `name` with `make(call)` (null result: erase).
  bool rewrite(StringRef name, function_ref<Value *(CallInst *)> make) {
    for (CallInst *call : callsTo(name)) {
      Value *v = make(call);
      if (!err.empty())
        return false;
      if (v)
        call->replaceAllUsesWith(v);
      else if (!call->use_empty())
        call->replaceAllUsesWith(PoisonValue::get(call->getType()));
      call->eraseFromParent();
    }
    if (Function *f = m.getFunction(name); f && f->use_empty())
      f->eraseFromParent();
    return true;
  }

  bool constants(ArrayRef<std::string> names) {
    const DataLayout &dl = m.getDataLayout();
    for (auto [index, name] : llvm::enumerate(names)) {
      GlobalVariable *g = m.getNamedGlobal(name);
      if (!g)
        continue; // no longer used
      convertUsersOfConstantsToInstructions({g});
      std::map<Function *, SmallVector<Instruction *>> byFunction;
      for (User *u : g->users()) {
        auto *inst = dyn_cast<Instruction>(u);
        if (!inst) {
          err = "constant '" + name + "' is used outside a function";
          return false;
        }
        byFunction[inst->getFunction()].push_back(inst);
      }
      uint64_t bytes = dl.getTypeAllocSize(g->getValueType());
      for (auto &[f, users] : byFunction) {
        Instruction *entry = &*f->getEntryBlock().getFirstInsertionPt();
        CallInst *dev = callApi(entry, kConstant, ptr,
                                {g, ConstantInt::get(i64, bytes), ConstantInt::get(i64, index)});
        if (!dev)
          return false;
        for (Instruction *inst : users)
          inst->replaceUsesOfWith(g, dev);
      }
    }
    return true;
  }
};

} // namespace

bool cuda::expandCudaRuntimeCalls(Module &m, ArrayRef<std::string> constants, std::string &err) {
  Rewriter r(m, err);
  // Launches first: they use the module, function and stream values.
  bool ok =
      r.rewrite("mgpuLaunchKernel",
                [&](CallInst *call) -> Value * {
                  // (f, gx, gy, gz, bx, by, bz, smem, stream, params, extra, n)
                  SmallVector<Value *> args = {call->getArgOperand(0)};
                  for (unsigned i = 1; i <= 7; ++i)
                    args.push_back(call->getArgOperand(i));
                  args.push_back(call->getArgOperand(9));
                  r.callApi(call, kLaunch, r.voidTy, args);
                  return nullptr;
                }) &&
      r.rewrite("mgpuModuleGetFunction",
                [&](CallInst *call) -> Value * {
                  return r.callApi(call, kModuleFunction, r.ptr,
                                   {call->getArgOperand(0), call->getArgOperand(1)});
                }) &&
      r.rewrite("mgpuModuleLoad",
                [&](CallInst *call) -> Value * {
                  return r.callApi(call, kModuleLoad, r.ptr,
                                   {call->getArgOperand(0), call->getArgOperand(1)});
                }) &&
      r.rewrite("mgpuStreamSynchronize", [](CallInst *) -> Value * { return nullptr; }) &&
      r.rewrite("mgpuStreamDestroy", [](CallInst *) -> Value * { return nullptr; }) &&
      r.rewrite("mgpuModuleUnload", [](CallInst *) -> Value * { return nullptr; }) &&
      r.rewrite("mgpuStreamCreate",
                [&](CallInst *) -> Value * {
                  return ConstantPointerNull::get(cast<PointerType>(r.ptr));
                }) &&
      r.rewrite(kReadFunction,
                [&](CallInst *call) -> Value * {
                  IRBuilder<> b(call);
                  r.callApi(call, kRead, r.voidTy,
                            {b.CreateIntToPtr(call->getArgOperand(0), r.ptr),
                             b.CreateIntToPtr(call->getArgOperand(1), r.ptr),
                             call->getArgOperand(2)});
                  return nullptr;
                }) &&
      r.rewrite(kGemmFunction,
                [&](CallInst *call) -> Value * {
                  // Addresses (arguments 6, 9, 12) as pointers.
                  IRBuilder<> b(call);
                  SmallVector<Value *> args;
                  for (unsigned i = 0; i < 15; ++i) {
                    Value *v = call->getArgOperand(i);
                    args.push_back(i == 6 || i == 9 || i == 12 ? b.CreateIntToPtr(v, r.ptr) : v);
                  }
                  r.callApi(call, kGemm, r.voidTy, args);
                  return nullptr;
                }) &&
      r.constants(constants);
  // Every host allocation is a device buffer, whichever lowering made it
  // (MLIR's generic functions or libc's): the size is argument 0, or 1
  // after an alignment (device allocations are 256-byte aligned).
  for (auto [name, sizeArg] : {std::pair("_mlir_memref_to_llvm_alloc", 0u),
                               std::pair("_mlir_memref_to_llvm_aligned_alloc", 1u),
                               std::pair("malloc", 0u), std::pair("aligned_alloc", 1u)})
    ok = ok && r.rewrite(name, [&, sizeArg = sizeArg](CallInst *call) -> Value * {
           return r.callApi(call, kAlloc, r.ptr, {call->getArgOperand(sizeArg)});
         });
  for (const char *name : {"_mlir_memref_to_llvm_free", "free"})
    ok = ok && r.rewrite(name, [&](CallInst *call) -> Value * {
           r.callApi(call, kFree, r.voidTy, {call->getArgOperand(0)});
           return nullptr;
         });
  if (!ok)
    return false;
  for (Function &f : m)
    if (f.isDeclaration() && !f.isIntrinsic() && f.getName().starts_with("mgpu") &&
        !f.use_empty()) {
      err = "the CUDA target does not support the GPU runtime call '" + f.getName().str() + "'";
      return false;
    }
  return true;
}
