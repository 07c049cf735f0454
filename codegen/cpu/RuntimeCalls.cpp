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
//    unit of profiling and of parallel code generation;
//  - every malloc, aligned_alloc and free of the code goes through
//    ctx->alloc and ctx->free when the runtime sets them (mlc 0.3.1 on), so
//    that the runtime can abandon a run whose allocation fails and free
//    what it held. Kernels and tiles are not handed the context: the host
//    and each parallel task keep it in a thread-local variable.
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
constexpr unsigned kParallelForField = 3, kKernelBeginField = 4, kKernelEndField = 5,
                   kAllocField = 8, kFreeField = 9;
static_assert(offsetof(mlc_exec_ctx, parallel_for) == 16, "ctx layout");
static_assert(offsetof(mlc_exec_ctx, kernel_begin) == 24, "ctx layout");
static_assert(offsetof(mlc_exec_ctx, kernel_end) == 32, "ctx layout");
static_assert(offsetof(mlc_exec_ctx, alloc) == 56, "ctx layout");
static_assert(offsetof(mlc_exec_ctx, free) == 64, "ctx layout");

StructType *ctxPrefixType(LLVMContext &c) {
  Type *i32 = Type::getInt32Ty(c), *ptr = PointerType::get(c, 0);
  return StructType::get(c, {i32, i32, ptr, ptr, ptr, ptr, ptr, ptr, ptr, ptr});
}

Value *loadField(IRBuilder<> &b, Value *ctx, unsigned field) {
  LLVMContext &c = b.getContext();
  Value *slot = b.CreateStructGEP(ctxPrefixType(c), ctx, field);
  return b.CreateLoad(PointerType::get(c, 0), slot);
}

/// The thread-local copy of the context that allocations read (null where
/// the module allocates nothing).
GlobalVariable *contextSlot(Module &m) { return m.getGlobalVariable("mlc_exec_ctx_slot", true); }

/// Each task's closure carries the captured values, then the context.
void expandDispatch(Module &m, Function *stub, Function *tile) {
  LLVMContext &c = m.getContext();
  Type *i64 = Type::getInt64Ty(c), *ptr = PointerType::get(c, 0);
  SmallVector<Type *> fields(stub->getFunctionType()->params().drop_front(2));
  unsigned numCaptured = fields.size();
  fields.push_back(ptr);
  StructType *closureTy = StructType::get(c, fields);

  auto *thunkTy = FunctionType::get(Type::getVoidTy(c), {ptr, i64, i64}, false);
  Function *thunk = Function::Create(thunkTy, GlobalValue::InternalLinkage,
                                     tile->getName() + "_thunk", m);
  {
    IRBuilder<> b(BasicBlock::Create(c, "entry", thunk));
    if (GlobalVariable *slot = contextSlot(m))
      b.CreateStore(b.CreateLoad(ptr, b.CreateStructGEP(closureTy, thunk->getArg(0), numCaptured)),
                    b.CreateThreadLocalAddress(slot));
    SmallVector<Value *> args = {thunk->getArg(1), thunk->getArg(2)};
    for (unsigned i = 0; i < numCaptured; ++i)
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
    Value *ctx = call->getArgOperand(0);
    for (unsigned i = 0; i < numCaptured; ++i)
      b.CreateStore(call->getArgOperand(i + 2), b.CreateStructGEP(closureTy, closure, i));
    b.CreateStore(ctx, b.CreateStructGEP(closureTy, closure, numCaptured));
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

/// A function like `libc` (malloc, aligned_alloc or free) that calls the
/// context's hook instead when there is one: ctx->alloc(ctx, bytes,
/// alignment) or ctx->free(ctx, p). malloc's blocks are 16-byte aligned on
/// x86-64.
Function *hookedAllocFunction(Module &m, Function *libc, GlobalVariable *slot) {
  LLVMContext &c = m.getContext();
  StringRef name = libc->getName();
  Type *ptr = PointerType::get(c, 0), *i64 = Type::getInt64Ty(c);
  Function *f = Function::Create(libc->getFunctionType(), GlobalValue::InternalLinkage,
                                 "mlc_hooked_" + name, m);
  auto *entry = BasicBlock::Create(c, "entry", f);
  auto *hooked = BasicBlock::Create(c, "hooked", f);
  auto *plain = BasicBlock::Create(c, "libc", f);
  IRBuilder<> b(entry);
  Value *ctx = b.CreateLoad(ptr, b.CreateThreadLocalAddress(slot));
  bool isFree = name == "free";
  // Load the hook only from a real context.
  auto *load = BasicBlock::Create(c, "load", f, hooked);
  b.CreateCondBr(b.CreateIsNull(ctx), plain, load);
  b.SetInsertPoint(load);
  Value *fn = loadField(b, ctx, isFree ? kFreeField : kAllocField);
  b.CreateCondBr(b.CreateIsNull(fn), plain, hooked);

  SmallVector<Value *> args(llvm::make_pointer_range(f->args()));
  b.SetInsertPoint(hooked);
  if (isFree) {
    b.CreateCall(FunctionType::get(b.getVoidTy(), {ptr, ptr}, false), fn, {ctx, args[0]});
    b.CreateRetVoid();
  } else {
    Value *bytes = name == "malloc" ? args[0] : args[1];
    Value *align = name == "malloc" ? ConstantInt::get(i64, 16) : args[0];
    b.CreateRet(b.CreateCall(FunctionType::get(ptr, {ptr, i64, i64}, false), fn,
                             {ctx, bytes, align}));
  }
  b.SetInsertPoint(plain);
  CallInst *call = b.CreateCall(libc, args);
  if (isFree)
    b.CreateRetVoid();
  else
    b.CreateRet(call);
  return f;
}

/// Routes the module's allocations through the context (see the top).
void hookAllocations(Module &m, Function *host) {
  SmallVector<Function *> libc;
  for (const char *name : {"malloc", "aligned_alloc", "free"})
    if (Function *f = m.getFunction(name); f && f->isDeclaration() && !f->use_empty())
      libc.push_back(f);
  if (libc.empty() || !host)
    return;
  LLVMContext &c = m.getContext();
  Type *ptr = PointerType::get(c, 0);
  auto *slot = new GlobalVariable(m, ptr, /*isConstant=*/false, GlobalValue::InternalLinkage,
                                  ConstantPointerNull::get(cast<PointerType>(ptr)),
                                  "mlc_exec_ctx_slot", nullptr,
                                  GlobalValue::GeneralDynamicTLSModel);
  IRBuilder<> b(&*host->getEntryBlock().getFirstInsertionPt());
  b.CreateStore(host->getArg(0), b.CreateThreadLocalAddress(slot));
  for (Function *f : libc) {
    Function *hooked = hookedAllocFunction(m, f, slot);
    for (User *u : llvm::make_early_inc_range(f->users()))
      if (auto *call = dyn_cast<CallInst>(u);
          call && call->getCalledFunction() == f && call->getFunction() != hooked)
        call->setCalledFunction(hooked);
  }
}

} // namespace

void mlc::cpu::expandRuntimeCalls(Module &m, StringRef hostName,
                                  ArrayRef<std::string> kernelNames) {
  Function *host = m.getFunction(hostName);
  // First, so that the tasks' thunks know to set the context's slot.
  hookAllocations(m, host);
  SmallVector<Function *> stubs;
  for (Function &f : m)
    if (f.isDeclaration() && f.getName().starts_with(cpu::kDispatchPrefix))
      stubs.push_back(&f);
  for (Function *stub : stubs)
    if (Function *tile = m.getFunction(stub->getName().drop_front(strlen(cpu::kDispatchPrefix))))
      expandDispatch(m, stub, tile);

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
