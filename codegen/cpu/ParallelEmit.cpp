//===- ParallelEmit.cpp - optimise and emit kernels on every core -------===//
//
// The module is cut into a fixed number of parts by function, balanced by
// instruction count; each part is optimised and emitted in its own
// LLVMContext on a worker thread, and the objects are linked together.
// The part count is fixed (not the core count) so that the same input
// gives the same .so on any machine. Data (weights, the ABI table) and the
// small functions the table points at stay in the original module, which
// is emitted without optimisation passes. So does the host schedule
// (optnone): it is a long sequence of calls whose values live across
// thousands of blocks, on which the greedy register allocator is quadratic
// (2,000 graph outputs: 20 s), so it is emitted with the fast one.
//
//===----------------------------------------------------------------------===//
#include "codegen/cpu/CpuCodegen.h"

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/Cloning.h"

#include <atomic>
#include <thread>

using namespace llvm;
using namespace mlc;

namespace {

constexpr unsigned kMaxParts = 8;

size_t instructionCount(const Function &f) {
  size_t n = 0;
  for (const BasicBlock &bb : f)
    n += bb.size();
  return n;
}

/// The bytes of a constant made of arrays of plain data, as memory holds
/// them; false for anything else (pointers, structs).
bool appendRawBytes(const Constant *c, const DataLayout &dl, std::string &out) {
  if (auto *data = dyn_cast<ConstantDataSequential>(c)) {
    out += data->getRawDataValues();
    return true;
  }
  if (isa<ConstantAggregateZero>(c)) {
    out.append(dl.getTypeAllocSize(c->getType()), '\0');
    return true;
  }
  if (auto *array = dyn_cast<ConstantArray>(c)) {
    for (const Use &u : array->operands())
      if (!appendRawBytes(cast<Constant>(u.get()), dl, out))
        return false;
    return true;
  }
  return false;
}

} // namespace

bool cpu::emitObjectsInParallel(std::unique_ptr<Module> m, const TargetInfo &target,
                                const TargetOptions &opts, std::vector<std::string> &objects,
                                std::string &err) {
  int optLevel = opts.optLevel;
  unsigned threads = opts.threads;
  // Weights as raw bytes: the assembly printer writes an i8 array in one
  // piece, but a float array, or MLIR's nested arrays for an N-d tensor,
  // element by element (3 s of BERT-base's 340 MB on one core).
  SmallVector<GlobalVariable *> arrays;
  for (GlobalVariable &g : m->globals())
    if (g.hasInitializer() && isa<ArrayType>(g.getValueType()))
      arrays.push_back(&g);
  for (GlobalVariable *g : arrays) {
    std::string raw;
    if (!appendRawBytes(g->getInitializer(), m->getDataLayout(), raw))
      continue;
    auto *bytes = ConstantDataArray::get(
        m->getContext(), ArrayRef<uint8_t>((const uint8_t *)raw.data(), raw.size()));
    auto *replacement = new GlobalVariable(*m, bytes->getType(), g->isConstant(), g->getLinkage(),
                                           bytes, "", g, g->getThreadLocalMode());
    replacement->copyAttributesFrom(g);
    replacement->setAlignment(m->getDataLayout().getPreferredAlign(g));
    replacement->takeName(g);
    g->replaceAllUsesWith(replacement);
    g->eraseFromParent();
  }
  // Everything becomes visible to the other parts, hidden outside the .so.
  for (GlobalValue &gv : m->global_values()) {
    if (gv.isDeclaration() || !gv.hasLocalLinkage())
      continue;
    gv.setLinkage(GlobalValue::ExternalLinkage);
    gv.setVisibility(GlobalValue::HiddenVisibility);
  }
  // Functions the data refers to (the run trampoline) stay with the data.
  DenseSet<const Function *> stay;
  for (GlobalVariable &g : m->globals())
    if (g.hasInitializer())
      for (const Use &u : g.getInitializer()->operands())
        if (auto *f = dyn_cast<Function>(u.get()->stripPointerCasts()))
          stay.insert(f);
  for (Function &f : *m)
    if (!f.isDeclaration() && f.hasOptNone())
      stay.insert(&f);
  SmallVector<Function *> work;
  for (Function &f : *m)
    if (!f.isDeclaration() && !stay.contains(&f) && f.hasHiddenVisibility())
      work.push_back(&f);
  // Largest first onto the lightest part (ties: lowest index), by name
  // order among equals: deterministic.
  llvm::stable_sort(work, [](Function *a, Function *b) {
    size_t sa = instructionCount(*a), sb = instructionCount(*b);
    return sa != sb ? sa > sb : a->getName() < b->getName();
  });
  unsigned numParts = std::min<unsigned>(kMaxParts, work.size());
  std::vector<size_t> load(numParts, 0);
  DenseMap<const GlobalValue *, unsigned> partOf;
  for (Function *f : work) {
    unsigned best = 0;
    for (unsigned p = 1; p < numParts; ++p)
      if (load[p] < load[best])
        best = p;
    load[best] += instructionCount(*f) + 1;
    partOf[f] = best;
  }
  std::vector<SmallVector<char, 0>> bitcode(numParts);
  for (unsigned p = 0; p < numParts; ++p) {
    ValueToValueMapTy vmap;
    std::unique_ptr<Module> part = CloneModule(*m, vmap, [&](const GlobalValue *gv) {
      auto it = partOf.find(gv);
      return it != partOf.end() && it->second == p;
    });
    raw_svector_ostream os(bitcode[p]);
    WriteBitcodeToFile(*part, os);
  }
  for (Function *f : work) {
    f->deleteBody();
    f->setLinkage(GlobalValue::ExternalLinkage);
  }
  opts.stepDone("split into parts");

  std::vector<std::string> partObjects(numParts), partErrors(numParts);
  std::atomic<unsigned> next{0};
  auto worker = [&]() {
    for (unsigned p = next++; p < numParts; p = next++) {
      LLVMContext ctx;
      auto parsed = parseBitcodeFile(
          MemoryBufferRef(StringRef(bitcode[p].data(), bitcode[p].size()), "part"), ctx);
      if (!parsed) {
        partErrors[p] = toString(parsed.takeError());
        continue;
      }
      std::unique_ptr<TargetMachine> tm = createTargetMachine(target, optLevel, partErrors[p]);
      if (!tm)
        continue;
      optimizeModule(**parsed, *tm, optLevel);
      emitMachineCode(**parsed, *tm, /*assembly=*/false, partObjects[p], partErrors[p]);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, std::min(threads, numParts)); ++t)
    pool.emplace_back(worker);
  // The data part and the host on this thread, then help with the rest.
  std::string dataObject;
  std::unique_ptr<TargetMachine> tm = createTargetMachine(target, /*optLevel=*/0, err);
  bool ok = tm && emitMachineCode(*m, *tm, /*assembly=*/false, dataObject, err);
  worker();
  for (std::thread &t : pool)
    t.join();
  opts.stepDone("optimise and emit parts");
  if (!ok)
    return false;
  objects.push_back(std::move(dataObject));
  for (unsigned p = 0; p < numParts; ++p) {
    if (!partErrors[p].empty()) {
      err = partErrors[p];
      return false;
    }
    objects.push_back(std::move(partObjects[p]));
  }
  return true;
}
