# Sourced (from the repository root) by scripts/sanitize.sh and
# test/fuzz/run_fuzzers.sh: how the ASan+UBSan binaries report. A setting
# the caller exported already is kept.
#
# Reports abort the process (a signal, which no test mistakes for an exit
# code); leaks are reported too. allow_user_poisoning=0: LLVM's
# BumpPtrAllocator poisons its slabs when compiled with ASan, and the
# uninstrumented libMLIR shares those slabs without unpoisoning them (without
# it, a long fuzz run stops on a false use-after-poison after ~10^5 inputs).
# allocator_may_return_null=1: malloc of more than the machine has returns
# null, as glibc's does, so the tests of runs too large to allocate check
# mlc's handling of it rather than stop on ASan's report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:halt_on_error=1:detect_leaks=1:allow_user_poisoning=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-abort_on_error=1:halt_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/test/fuzz/lsan.supp}
