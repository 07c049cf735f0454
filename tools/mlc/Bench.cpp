//===- Bench.cpp - mlc bench: latency statistics and kernel profiles -----===//
#include "tools/mlc/Common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace mlc::tools {

static const char *kBenchHelp =
    "usage: mlc bench MODEL.so [--input NAME=FILE] [--shape NAME=DIMS]\n"
    "                 [--iterations N | --duration SECONDS] [--warmup N]\n"
    "                 [--threads N] [--json] [--profile]\n"
    "                 [--export-profile TRACE.json]\n"
    "\n"
    "Inputs not given are filled with random values; symbolic dims need\n"
    "--shape. Runs --warmup runs (default 3), then --iterations timed runs\n"
    "(default 20) or as many as fit in --duration seconds, and prints the\n"
    "latency of one run in ms to the microsecond (min, mean, median, p90,\n"
    "p99, stdev), the throughput in runs per second and the thread count\n"
    "(default: $MLC_NUM_THREADS, or every CPU this process may use). --json\n"
    "prints the same as one JSON object. --profile then runs the model --iterations more times\n"
    "with profiling on and prints its kernels by total time; --export-profile\n"
    "writes those runs as a Chrome trace (chrome://tracing, ui.perfetto.dev).\n";

namespace {

struct Latency {
  double min, mean, median, p90, p99, stdev;
};

/// `ms` must not be empty. Percentiles by nearest rank.
Latency latencyStats(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  size_t n = ms.size();
  double sum = 0;
  for (double v : ms)
    sum += v;
  auto rank = [&](double p) { return ms[(size_t)std::max(1.0, std::ceil(p * n)) - 1]; };
  double median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  double mean = sum / n, var = 0;
  for (double v : ms)
    var += (v - mean) * (v - mean);
  double stdev = n > 1 ? std::sqrt(var / (n - 1)) : 0.0;
  return {ms.front(), mean, median, rank(0.90), rank(0.99), stdev};
}

/// Pads to `width` display columns (UTF-8 aware: "—" is one column).
std::string pad(const std::string &s, size_t width, bool right) {
  size_t cols = 0;
  for (unsigned char c : s)
    cols += (c & 0xC0) != 0x80;
  std::string fill(cols < width ? width - cols : 0, ' ');
  return right ? fill + s : s + fill;
}

std::string format(const char *fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

/// 4194304 -> "4.19M".
std::string siCount(double v) {
  const char *units[] = {"", "k", "M", "G", "T", "P"};
  int u = 0;
  while (v >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  return format(u ? "%.3g" : "%.0f", v) + units[u];
}

/// A GFLOP/s figure with about three significant digits, never in e-notation.
std::string rate(double v) {
  return format(v >= 100 ? "%.0f" : v >= 1 ? "%.2f" : "%.3g", v);
}

struct KernelRow {
  int32_t kernel;
  std::string name;
  int64_t flops; // per call, -1 unknown
  int64_t totalNs = 0;
  int64_t calls = 0;
};

void printProfile(const mlc_model *model, const std::vector<mlc_profile_event> &events,
                  int threads) {
  size_t numKernels = mlc_model_num_kernels(model);
  int64_t runs = 0, runNs = 0;
  std::vector<KernelRow> rows;
  for (size_t k = 0; k < numKernels; ++k) {
    mlc_kernel_info info;
    mlc_model_kernel_info(model, k, &info);
    rows.push_back({(int32_t)k, info.name, info.flops});
  }
  for (const mlc_profile_event &e : events) {
    if (e.kernel < 0) {
      ++runs;
      runNs += e.end_ns - e.begin_ns;
    } else if ((size_t)e.kernel < rows.size()) {
      rows[e.kernel].totalNs += e.end_ns - e.begin_ns;
      rows[e.kernel].calls++;
    }
  }
  if (runs == 0) {
    std::printf("\nprofile: no events were recorded\n");
    return;
  }
  std::printf("\nprofile: %lld runs with profiling on, %d thread%s (apart from the timed runs)\n",
              (long long)runs, threads, threads == 1 ? "" : "s");
  if (numKernels == 0) {
    std::printf("this model has no kernel list (ABI v%s model); recompile it with this mlc to see "
                "per-kernel times\n",
                mlc_model_metadata(model, "abi_version"));
    std::printf("run: %.4g ms\n", runNs / 1e6 / runs);
    return;
  }
  rows.erase(std::remove_if(rows.begin(), rows.end(),
                            [](const KernelRow &r) { return r.calls == 0; }),
             rows.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const KernelRow &a, const KernelRow &b) { return a.totalNs > b.totalNs; });
  size_t nameWidth = 6;
  for (const KernelRow &r : rows)
    nameWidth = std::max(nameWidth, std::min<size_t>(r.name.size(), 48));
  std::printf("%s  %s  %s  %s  %s  %s  %s\n", pad("rank", 4, true).c_str(),
              pad("kernel", nameWidth, false).c_str(), pad("share", 6, true).c_str(),
              pad("calls", 6, true).c_str(), pad("ms/run", 9, true).c_str(),
              pad("FLOPs/call", 10, true).c_str(), pad("GFLOP/s", 8, true).c_str());
  int64_t kernelNs = 0;
  double knownFlops = 0;
  int64_t knownNs = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const KernelRow &r = rows[i];
    kernelNs += r.totalNs;
    std::string name = r.name.size() > 48 ? r.name.substr(0, 45) + "..." : r.name;
    double callsPerRun = (double)r.calls / runs;
    std::string calls = r.calls % runs == 0 ? std::to_string(r.calls / runs)
                                            : format("%.2f", callsPerRun);
    std::string flops = "\u2014", gflops = "\u2014";
    if (r.flops >= 0) {
      flops = siCount((double)r.flops);
      double seconds = r.totalNs / 1e9;
      if (seconds > 0)
        gflops = rate((double)r.flops * r.calls / seconds / 1e9);
      knownFlops += (double)r.flops * r.calls;
      knownNs += r.totalNs;
    }
    std::printf("%s  %s  %s  %s  %s  %s  %s\n", pad(std::to_string(i + 1), 4, true).c_str(),
                pad(name, nameWidth, false).c_str(),
                pad(format("%.1f%%", 100.0 * r.totalNs / std::max<int64_t>(runNs, 1)), 6, true)
                    .c_str(),
                pad(calls, 6, true).c_str(), pad(format("%.4g", r.totalNs / 1e6 / runs), 9, true)
                    .c_str(),
                pad(flops, 10, true).c_str(), pad(gflops, 8, true).c_str());
  }
  std::printf("kernels %.4g ms of %.4g ms per run (%.1f%%; the rest is the host schedule)\n",
              kernelNs / 1e6 / runs, runNs / 1e6 / runs, 100.0 * kernelNs / std::max<int64_t>(runNs, 1));
  if (knownNs > 0)
    std::printf("kernels with known FLOPs: %s GFLOP/s\n",
                rate(knownFlops / (knownNs / 1e9) / 1e9).c_str());
}

/// Writes the events as Chrome trace-event JSON: one "X" event per run and
/// per kernel call, times in microseconds from the first event.
bool writeTrace(const std::string &file, const std::string &modelPath, const mlc_model *model,
                std::vector<mlc_profile_event> events, int threads) {
  std::ofstream f(file);
  if (!f)
    return false;
  // Parents first: by begin, then the longer event.
  std::stable_sort(events.begin(), events.end(),
                   [](const mlc_profile_event &a, const mlc_profile_event &b) {
                     return a.begin_ns != b.begin_ns ? a.begin_ns < b.begin_ns
                                                     : a.end_ns > b.end_ns;
                   });
  int64_t origin = events.empty() ? 0 : events.front().begin_ns;
  size_t numKernels = mlc_model_num_kernels(model);
  f << "{\"traceEvents\":[\n";
  f << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":"
    << jsonString("mlc bench " + modelPath) << "}},\n";
  f << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":1,\"args\":{\"name\":"
    << jsonString("run (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)"))
    << "}}";
  int64_t iteration = 0;
  for (const mlc_profile_event &e : events) {
    std::string name, args;
    if (e.kernel < 0) {
      name = "run";
      args = "{\"iteration\":" + std::to_string(iteration++) + "}";
    } else {
      mlc_kernel_info info{"", -1};
      if ((size_t)e.kernel < numKernels)
        mlc_model_kernel_info(model, e.kernel, &info);
      name = *info.name ? info.name : "kernel " + std::to_string(e.kernel);
      args = info.flops >= 0 ? "{\"flops\":" + std::to_string(info.flops) + "}" : "{}";
    }
    f << ",\n{\"name\":" << jsonString(name) << ",\"cat\":\""
      << (e.kernel < 0 ? "run" : "kernel") << "\",\"ph\":\"X\",\"ts\":"
      << format("%.3f", (e.begin_ns - origin) / 1e3)
      << ",\"dur\":" << format("%.3f", (e.end_ns - e.begin_ns) / 1e3)
      << ",\"pid\":1,\"tid\":1,\"args\":" << args << "}";
  }
  f << "\n],\"displayTimeUnit\":\"ms\"}\n";
  return (bool)f.flush();
}

} // namespace

int cmdBench(const Args &a) {
  if (wantsHelp(a)) {
    std::printf("%s", kBenchHelp);
    return kOk;
  }
  RunArgs r;
  if (int rc = parseRunArgs(a, {"iterations", "warmup", "export-profile", "duration"},
                            {"profile", "json"}, r, kBenchHelp))
    return rc;
  int iterations = 20, warmup = 3;
  double duration = 0;
  if (r.values.count("iterations") && r.values.count("duration"))
    return userError("--iterations and --duration are alternatives: give one");
  if (r.values.count("iterations") &&
      !parseCount("--iterations", r.values["iterations"], 1, iterations))
    return kUserError;
  if (r.values.count("duration")) {
    if (!parseReal("--duration", r.values["duration"], duration))
      return kUserError;
    if (!(duration > 0 && duration <= 86400))
      return userError("--duration takes seconds > 0 (at most a day), got '" +
                       r.values["duration"] + "'");
  }
  bool json = r.flags.count("json");
  if (json && r.flags.count("profile"))
    return userError("--json goes with --export-profile for a machine-readable profile, not "
                     "--profile");
  if (r.values.count("warmup") && !parseCount("--warmup", r.values["warmup"], 0, warmup))
    return kUserError;
  bool profile = r.flags.count("profile");
  std::string traceFile = r.values.count("export-profile") ? r.values["export-profile"] : "";
  LoadedModel m;
  if (int rc = loadModel(r.model, m))
    return rc;
  std::vector<HostTensor> inputs;
  if (int rc = gatherInputs(m.model, r.files, r.shapes, true, inputs))
    return rc;
  SessionHandle session;
  if (int rc = createSession(m.model, r.threads, session))
    return rc;
  int threads = mlc_session_num_threads(session.session);

  // `count` runs, or with `seconds` > 0 as many as start within that time.
  auto runTimes = [&](int count, std::vector<double> *ms, double seconds = 0) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; seconds > 0 || i < count; ++i) {
      if (seconds > 0 && i > 0 &&
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= seconds)
        break;
      std::vector<mlc_tensor> outs;
      auto t0 = std::chrono::steady_clock::now();
      int rc = runOnce(session.session, m.model, inputs, outs);
      auto t1 = std::chrono::steady_clock::now();
      for (auto &o : outs)
        mlc_tensor_release(&o);
      if (rc)
        return rc;
      if (ms)
        ms->push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    return kOk;
  };
  std::vector<double> ms;
  if (int rc = runTimes(warmup, nullptr))
    return rc;
  auto timedStart = std::chrono::steady_clock::now();
  if (int rc = runTimes(iterations, &ms, duration))
    return rc;
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - timedStart).count();
  iterations = int(ms.size());
  Latency l = latencyStats(ms);
  double throughput = wall > 0 ? iterations / wall : 0;
  if (json) {
    std::string shapes;
    std::vector<mlc_tensor_info> infos = tensorInfos(m.model, false);
    for (size_t i = 0; i < inputs.size(); ++i) {
      shapes += std::string(i ? ", " : "") + jsonString(infos[i].name) + ": [";
      for (size_t d = 0; d < inputs[i].shape.size(); ++d)
        shapes += (d ? ", " : "") + std::to_string(inputs[i].shape[d]);
      shapes += "]";
    }
    std::printf("{\"model\": %s, \"threads\": %d, \"warmup\": %d, \"runs\": %d, "
                "\"input_shapes\": {%s},\n \"latency_ms\": {\"min\": %.6f, \"mean\": %.6f, "
                "\"median\": %.6f, \"p90\": %.6f, \"p99\": %.6f, \"stdev\": %.6f},\n "
                "\"throughput_per_s\": %.3f}\n",
                jsonString(r.model).c_str(), threads, warmup, iterations, shapes.c_str(), l.min,
                l.mean, l.median, l.p90, l.p99, l.stdev, throughput);
  } else {
    std::printf("model:      %s\nthreads:    %d\nruns:       %d (after %d warmup)\n",
                r.model.c_str(), threads, iterations, warmup);
    // Microseconds at least; more decimals for four significant digits of
    // the fastest run.
    int decimals = 3;
    if (l.min > 0)
      decimals = std::clamp(3 - (int)std::floor(std::log10(l.min)), 3, 9);
    std::printf("latency ms: min %.*f  mean %.*f  median %.*f  p90 %.*f  p99 %.*f  stdev %.*f\n",
                decimals, l.min, decimals, l.mean, decimals, l.median, decimals, l.p90, decimals,
                l.p99, decimals, l.stdev);
    std::printf("throughput: %.2f runs/s\n", throughput);
  }

  if (!profile && traceFile.empty())
    return kOk;
  // Profiled runs are separate: the hooks add overhead to every kernel.
  mlc_session_set_profiling(session.session, 1);
  if (int rc = runTimes(iterations, nullptr))
    return rc;
  mlc_session_set_profiling(session.session, 0);
  const mlc_profile_event *data = nullptr;
  size_t n = mlc_session_profile_events(session.session, &data);
  std::vector<mlc_profile_event> events(data, data + n);
  if (profile)
    printProfile(m.model, events, threads);
  if (!traceFile.empty()) {
    if (!writeTrace(traceFile, r.model, m.model, events, threads))
      return userError("cannot write the trace '" + traceFile + "'");
    std::printf("\ntrace: %s (%zu events; open in chrome://tracing or ui.perfetto.dev)\n",
                traceFile.c_str(), events.size());
    if (mlc_model_num_kernels(m.model) == 0)
      std::printf("this model has no kernel list (ABI v%s); the trace holds whole runs only\n",
                  mlc_model_metadata(m.model, "abi_version"));
  }
  return kOk;
}

} // namespace mlc::tools
