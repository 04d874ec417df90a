// csd-bench: UNP Figure 30.1 on this machine. Every design under the same
// load, interleaved over repetitions (shuffled in each) so that machine noise hits
// all alike, each figure also as a ratio to a minimal C iterative server
// (csd-citerative) measured in the same run. See docs/BENCHMARKS.md.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "designs.hpp"
#include "measure.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "summary.hpp"
#include "system.hpp"

namespace {

using namespace csd::bench;

// ---- Ctrl-C: finish the current run, report what was measured, exit 130 -------------

std::atomic<bool> stop_requested{false};  // lock-free: safe in a signal handler

extern "C" void request_stop(int /*sig*/) { stop_requested.store(true); }

// The first SIGINT/SIGTERM asks for a clean stop after the current run (its
// server is stopped like any other); SA_RESETHAND makes a second one fatal at
// once, and csd-guard then kills the servers' trees.
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = request_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// ---- the plan -----------------------------------------------------------------------

std::vector<LoadPoint> load_points(const Options& o) {
  std::vector<LoadPoint> points;
  for (const int clients : o.clients) {
    for (const uint64_t bytes : o.bytes) {
      LoadPoint p{.clients = clients,
                  .conns = o.conns.value_or(auto_conns_per_client(clients, bytes)),
                  .bytes = bytes};
      p.baseline_clients = o.baseline_clients.value_or(p.clients);
      p.baseline_conns = o.baseline_conns.value_or(p.conns);
      points.push_back(p);
    }
  }
  return points;
}

// Repetition by repetition, point by point, every design once, each time in
// a freshly shuffled order: a run can leave work behind (a fork-per-client
// server's thousands of exited children to free, TIME_WAIT sockets), and a
// fixed order, even rotated, would hand it to the same successor every time.
// Seeded, so a plan can be run again.
std::vector<RunSpec> plan_runs(const DesignList& designs, const std::vector<LoadPoint>& points,
                               int reps, uint32_t seed) {
  std::vector<RunSpec> plan;
  std::mt19937 shuffler(seed);
  std::vector<std::size_t> order(designs.designs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (int rep = 0; rep < reps; ++rep) {
    for (std::size_t p = 0; p < points.size(); ++p) {
      std::shuffle(order.begin(), order.end(), shuffler);
      for (const std::size_t d : order) {
        const auto& point = points[p];
        const bool base = designs.designs[d].baseline;
        plan.push_back({.design = d,
                        .point = p,
                        .rep = rep,
                        .clients = base ? point.baseline_clients : point.clients,
                        .conns = base ? point.baseline_conns : point.conns,
                        .bytes = point.bytes});
      }
    }
  }
  return plan;
}

// ---- outputs ------------------------------------------------------------------------

// An output file, opened before the first run so that a bad path fails at
// once (exit 2), not after minutes of measuring.
struct OutputFile {
  std::string path;
  std::ofstream stream;
};

std::optional<OutputFile> open_output(const std::string& path, const char* option) {
  OutputFile f{.path = path, .stream = std::ofstream(path)};
  if (!f.stream) {
    fmt::print(stderr, "csd-bench: {} {}: cannot write\n", option, path);
    return std::nullopt;
  }
  return f;
}

bool write_output(OutputFile& f, const std::string& text) {
  f.stream << text;
  f.stream.flush();
  if (f.stream)
    return true;
  fmt::print(stderr, "csd-bench: {}: write failed\n", f.path);
  return false;
}

// ---- the run ------------------------------------------------------------------------

// A run not made because the design's server did not start earlier: one
// failed start is reported, not waited for again at every point.
RunRecord not_run(const RunSpec& spec, const Design& design) {
  RunRecord r;
  r.spec = spec;
  r.design = design.name();
  r.model = design.manifest.model;
  r.invalid_reason = "not run: the server did not start in an earlier run";
  return r;
}

std::vector<RunRecord> run_plan(const std::vector<RunSpec>& plan, const DesignList& designs,
                                const Options& options, const MeasureOptions& measure,
                                Progress& progress) {
  std::vector<RunRecord> runs;
  runs.reserve(plan.size());
  std::vector<bool> did_not_start(designs.designs.size(), false);
  for (const auto& spec : plan) {
    if (stop_requested.load())
      break;
    const Design& design = designs.designs[spec.design];
    if (did_not_start[spec.design]) {
      runs.push_back(not_run(spec, design));
      progress.finished(runs.back(), options.reps);
      continue;
    }
    RunRecord upcoming;
    upcoming.spec = spec;
    upcoming.design = design.name();
    progress.starting(upcoming, options.reps);
    runs.push_back(measure_run(design, spec, measure));
    did_not_start[spec.design] = !runs.back().started;
    progress.finished(runs.back(), options.reps);
  }
  return runs;
}

int exit_status(const BenchResult& result) {
  if (result.interrupted)
    return kExitInterrupted;
  for (const auto& r : result.runs) {
    if (!r.valid)
      return kExitInvalidRuns;
  }
  return kExitOk;
}

int bench(const Options& options, MachineInfo machine) {
  DesignList designs;
  try {
    designs = find_designs(options, own_bin_dir());
  } catch (const UsageError& e) {
    fmt::print(stderr, "csd-bench: {}\n", e.what());
    return kExitUsage;
  }
  std::optional<OutputFile> json_file;
  std::optional<OutputFile> markdown_file;
  if (!options.json_path.empty() && !(json_file = open_output(options.json_path, "--json")))
    return kExitUsage;
  if (!options.markdown_path.empty() &&
      !(markdown_file = open_output(options.markdown_path, "--markdown"))) {
    return kExitUsage;
  }

  BenchResult result;
  result.machine = std::move(machine);
  result.options = &options;
  result.designs = &designs;
  result.points = load_points(options);
  const auto plan = plan_runs(designs, result.points, options.reps, options.seed);
  result.planned_runs = plan.size();

  install_stop_handlers();
  {
    Progress progress(plan.size(), options.quiet);
    for (const auto& skipped : designs.skipped)
      progress.message(fmt::format("skipping {}", skipped));
    if (!options.quiet) {
      progress.message(fmt::format("{} designs x {} load points x {} reps = {} runs",
                                   designs.designs.size(), result.points.size(), options.reps,
                                   plan.size()));
    }
    const MeasureOptions measure{.sources = options.sources,
                                 .timeout = options.timeout,
                                 .port_count = result.machine.port_count};
    result.runs = run_plan(plan, designs, options, measure, progress);
    result.interrupted = result.runs.size() < plan.size();
    if (result.interrupted)
      progress.message("interrupted: reporting the runs measured so far");
  }
  result.summary = summarize(result.runs, designs, result.points);

  const std::string markdown = markdown_report(result);
  fmt::print("{}", markdown);
  std::fflush(stdout);
  bool written = true;
  if (markdown_file)
    written = write_output(*markdown_file, markdown) && written;
  if (json_file)
    written = write_output(*json_file, json_report(result).dump(2) + "\n") && written;
  if (!written)
    return kExitInvalidRuns;
  return exit_status(result);
}

}  // namespace

int main(int argc, char** argv) {
  MachineInfo machine = describe_machine();
  auto parsed = parse_options(argc, argv, machine.cores);
  if (const int* code = std::get_if<int>(&parsed))
    return *code;
  try {
    return bench(std::get<Options>(parsed), std::move(machine));
  } catch (const std::exception& e) {
    fmt::print(stderr, "csd-bench: {}\n", e.what());
    return kExitInvalidRuns;
  }
}
