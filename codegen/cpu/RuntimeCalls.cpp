//===- RuntimeCalls.cpp - calls into the execution context, in LLVM IR ---===//
//
// The generated code reaches the runtime only through the mlc_exec_ctx it
// is handed (mlc/abi.h), so a model.so links against nothing but libc and
// libm. Here, after translation to LLVM IR:
//  - each dispatch stub call becomes ctx->parallel_for(ctx, n, thunk,
//    closure), the closure being a stack struct of the captured values and
//    the thunk unpacking it into a call of the tile function;
//  - each kernel call in the host schedule is bracketed by the profiling
//    hooks when the runtime sets them;
//  - kernels and tile functions stay functions (noinline): they are the
//    unit of profiling and of parallel code generation.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/CpuCodegen.h"
#include "mlc/abi.h"

#include "llvm/IR/AttributeMask.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Instructions.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"
#include "llvm/Transforms/Utils/Local.h"

#include <cstddef>

using namespace llvm;
using namespace mlc;

namespace {

/// Field indices of mlc_exec_ctx, checked against the C header.
constexpr unsigned kParallelForField = 3, kKernelBeginField = 4, kKernelEndField = 5;
static_assert(offsetof(mlc_exec_ctx, parallel_for) == 16, "ctx layout");
static_assert(offsetof(mlc_exec_ctx, kernel_begin) == 24, "ctx layout");
static_assert(offsetof(mlc_exec_ctx, kernel_end) == 32, "ctx layout");

StructType *ctxPrefixType(LLVMContext &c) {
  Type *i32 = Type::getInt32Ty(c), *ptr = PointerType::get(c, 0);
  return StructType::get(c, {i32, i32, ptr, ptr, ptr, ptr});
}

Value *loadField(IRBuilder<> &b, Value *ctx, unsigned field) {
  LLVMContext &c = b.getContext();
  Value *slot = b.CreateStructGEP(ctxPrefixType(c), ctx, field);
  return b.CreateLoad(PointerType::get(c, 0), slot);
}

void expandDispatch(Module &m, Function *stub, Function *tile) {
  LLVMContext &c = m.getContext();
  Type *i64 = Type::getInt64Ty(c), *ptr = PointerType::get(c, 0);
  SmallVector<Type *> fields(stub->getFunctionType()->params().drop_front(2));
  StructType *closureTy = StructType::get(c, fields);

  auto *thunkTy = FunctionType::get(Type::getVoidTy(c), {ptr, i64, i64}, false);
  Function *thunk = Function::Create(thunkTy, GlobalValue::InternalLinkage,
                                     tile->getName() + "_thunk", m);
  {
    IRBuilder<> b(BasicBlock::Create(c, "entry", thunk));
    SmallVector<Value *> args = {thunk->getArg(1), thunk->getArg(2)};
    for (unsigned i = 0; i < fields.size(); ++i)
      args.push_back(b.CreateLoad(fields[i], b.CreateStructGEP(closureTy, thunk->getArg(0), i)));
    b.CreateCall(tile, args);
    b.CreateRetVoid();
  }
  auto *pforTy = FunctionType::get(Type::getVoidTy(c), {ptr, i64, ptr, ptr}, false);
  SmallVector<CallInst *> calls;
  for (User *u : stub->users())
    if (auto *call = dyn_cast<CallInst>(u))
      calls.push_back(call);
  for (CallInst *call : calls) {
    Function *caller = call->getFunction();
    IRBuilder<> entry(&caller->getEntryBlock(), caller->getEntryBlock().begin());
    Value *closure = entry.CreateAlloca(closureTy);
    IRBuilder<> b(call);
    for (unsigned i = 0; i < fields.size(); ++i)
      b.CreateStore(call->getArgOperand(i + 2), b.CreateStructGEP(closureTy, closure, i));
    Value *ctx = call->getArgOperand(0);
    b.CreateCall(pforTy, loadField(b, ctx, kParallelForField),
                 {ctx, call->getArgOperand(1), thunk, closure});
    call->eraseFromParent();
  }
  stub->eraseFromParent();
  tile->addFnAttr(Attribute::NoInline);
}

/// if (ctx->hook) ctx->hook(ctx, kernel) right before `at`.
void callHook(Instruction *at, Value *ctx, unsigned field, int32_t kernel) {
  LLVMContext &c = at->getContext();
  IRBuilder<> b(at);
  Value *hook = loadField(b, ctx, field);
  Value *set = b.CreateIsNotNull(hook);
  Instruction *then = SplitBlockAndInsertIfThen(set, at, /*Unreachable=*/false);
  IRBuilder<> tb(then);
  auto *hookTy = FunctionType::get(Type::getVoidTy(c),
                                   {PointerType::get(c, 0), Type::getInt32Ty(c)}, false);
  tb.CreateCall(hookTy, hook, {ctx, tb.getInt32(kernel)});
}

} // namespace

void mlc::cpu::expandRuntimeCalls(Module &m, StringRef hostName,
                                  ArrayRef<std::string> kernelNames) {
  SmallVector<Function *> stubs;
  for (Function &f : m)
    if (f.isDeclaration() && f.getName().starts_with(cpu::kDispatchPrefix))
      stubs.push_back(&f);
  for (Function *stub : stubs)
    if (Function *tile = m.getFunction(stub->getName().drop_front(strlen(cpu::kDispatchPrefix))))
      expandDispatch(m, stub, tile);

  Function *host = m.getFunction(hostName);
  for (auto [index, name] : llvm::enumerate(kernelNames)) {
    Function *kernel = m.getFunction(name);
    if (!kernel)
      continue;
    kernel->addFnAttr(Attribute::NoInline);
    if (!host)
      continue;
    SmallVector<CallInst *> calls;
    for (User *u : kernel->users())
      if (auto *call = dyn_cast<CallInst>(u); call && call->getFunction() == host)
        calls.push_back(call);
    for (CallInst *call : calls) {
      Value *ctx = host->getArg(0);
      callHook(call, ctx, kKernelBeginField, (int32_t)index);
      callHook(call->getNextNode(), ctx, kKernelEndField, (int32_t)index);
    }
  }
}

void mlc::cpu::returnResultsThroughPointer(Module &m, StringRef hostName) {
  Function *old = m.getFunction(hostName);
  auto *sty = old ? dyn_cast<StructType>(old->getReturnType()) : nullptr;
  if (!sty || old->isDeclaration())
    return;
  LLVMContext &c = m.getContext();
  SmallVector<Type *> params(old->getFunctionType()->params());
  params.push_back(PointerType::get(c, 0));
  Function *nf = Function::Create(FunctionType::get(Type::getVoidTy(c), params, false),
                                  old->getLinkage(), old->getAddressSpace(), "", &m);
  nf->copyAttributesFrom(old);
  nf->removeRetAttrs(AttributeMask(nf->getAttributes().getRetAttrs()));
  nf->takeName(old);
  nf->splice(nf->begin(), old);
  for (auto [from, to] : llvm::zip(old->args(), nf->args())) {
    from.replaceAllUsesWith(&to);
    to.takeName(&from);
  }
  Argument *out = nf->getArg(params.size() - 1);

  // Each return stores its fields: the values the insertvalue chain put
  // there (the last insertion of a field wins), or those extracted from
  // whatever the chain started from.
  SmallVector<ReturnInst *> rets;
  for (BasicBlock &bb : *nf)
    if (auto *ret = dyn_cast<ReturnInst>(bb.getTerminator()))
      rets.push_back(ret);
  for (ReturnInst *ret : rets) {
    IRBuilder<> b(ret);
    SmallVector<Value *> fields(sty->getNumElements(), nullptr);
    Value *base = ret->getReturnValue();
    while (auto *iv = dyn_cast<InsertValueInst>(base)) {
      if (iv->getNumIndices() != 1)
        break;
      if (!fields[iv->getIndices()[0]])
        fields[iv->getIndices()[0]] = iv->getInsertedValueOperand();
      base = iv->getAggregateOperand();
    }
    bool opaqueBase = !isa<UndefValue>(base);
    Value *agg = ret->getReturnValue();
    for (unsigned i = 0; i < sty->getNumElements(); ++i) {
      Value *v = fields[i];
      if (!v && !opaqueBase)
        continue;
      if (!v)
        v = b.CreateExtractValue(base, i);
      b.CreateStore(v, b.CreateStructGEP(sty, out, i));
    }
    b.CreateRetVoid();
    ret->eraseFromParent();
    RecursivelyDeleteTriviallyDeadInstructions(agg);
  }

  // Callers pass where the results go: the pointer their store of the
  // whole struct wrote to, or a stack slot they load from.
  for (User *u : llvm::make_early_inc_range(old->users())) {
    auto *call = cast<CallInst>(u);
    IRBuilder<> b(call);
    auto *store = call->hasOneUse() ? dyn_cast<StoreInst>(*call->user_begin()) : nullptr;
    Value *dst;
    if (store && store->getValueOperand() == call && isa<Argument>(store->getPointerOperand())) {
      dst = store->getPointerOperand();
    } else {
      store = nullptr;
      IRBuilder<> eb(&*call->getFunction()->getEntryBlock().getFirstInsertionPt());
      dst = eb.CreateAlloca(sty);
    }
    SmallVector<Value *> args(call->args());
    args.push_back(dst);
    CallInst *nc = b.CreateCall(nf, args);
    nc->setCallingConv(call->getCallingConv());
    if (store) {
      store->eraseFromParent();
    } else {
      call->replaceAllUsesWith(b.CreateLoad(sty, dst));
    }
    call->eraseFromParent();
  }
  old->eraseFromParent();
}
