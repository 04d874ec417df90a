// csd-bench: UNP Figure 30.1 on this machine. Plans the runs, measures them
// one after another, and writes the JSON document and the tables made from it.
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "bench.hpp"
#include "bench_figure.hpp"
#include "status_line.hpp"

namespace {

using namespace csd::bench;

// The first SIGINT or SIGTERM asks for a clean stop after the current run
// (its server is stopped like any other) and a report of what was measured;
// SA_RESETHAND makes a second one fatal at once, and csd-guard then kills
// the servers' trees.
std::atomic<bool> stop_requested{false};  // lock-free: safe in a signal handler

extern "C" void request_stop(int /*sig*/) { stop_requested.store(true); }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = request_stop;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART | SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// ---- what the machine is ------------------------------------------------------------

std::string read_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::ranges::replace(line, '\t', ' ');
  return in ? line : "unreadable";
}

json describe_machine() {
  utsname u{};
  ::uname(&u);
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  std::string build_type = CSD_BUILD_TYPE;
  if (!std::string(CSD_SANITIZE_FLAGS).empty())
    build_type += ", sanitize=" CSD_SANITIZE_FLAGS;
  return {{"date", fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900,
                               utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec)},
          {"kernel", fmt::format("{} {} {} {}", u.sysname, u.release, u.version, u.machine)},
          {"cores", std::max(1U, std::thread::hardware_concurrency())},
          {"loadavg", read_line("/proc/loadavg")},
          {"ip_local_port_range", read_line("/proc/sys/net/ipv4/ip_local_port_range")},
          {"tcp_tw_reuse", read_line("/proc/sys/net/ipv4/tcp_tw_reuse")},
          {"somaxconn", read_line("/proc/sys/net/core/somaxconn")},
          {"compiler", CSD_COMPILER},
          {"build_type", build_type}};
}

// Ephemeral ports per source address: what TIME_WAIT can exhaust.
int port_count(const std::string& range) {
  std::istringstream in(range);
  int low = 0;
  int high = 0;
  return in >> low >> high && high >= low ? high - low + 1 : 0;
}

// ---- the plan -----------------------------------------------------------------------

struct PlannedRun {
  std::size_t design = 0;
  std::size_t point = 0;
  int rep = 0;
};

// Repetition by repetition, point by point, every design once, each time in
// a freshly shuffled order: a run can leave work behind (a fork-per-client
// server's thousands of exited children to free, TIME_WAIT sockets), and a
// fixed order, even rotated, would hand it to the same successor every time.
std::vector<PlannedRun> plan_runs(std::size_t designs, std::size_t points, int reps,
                                  uint32_t seed) {
  std::vector<PlannedRun> plan;
  std::mt19937 shuffler(seed);
  std::vector<std::size_t> order(designs);
  std::iota(order.begin(), order.end(), std::size_t{0});
  for (int rep = 0; rep < reps; ++rep) {
    for (std::size_t point = 0; point < points; ++point) {
      std::shuffle(order.begin(), order.end(), shuffler);
      for (const std::size_t design : order) plan.push_back({design, point, rep});
    }
  }
  return plan;
}

// Progress, one status line on a terminal (harness::StatusLine); an invalid
// run is also written out as a line of its own wherever stderr goes.
void show_progress(csd::harness::StatusLine& status, std::size_t done, std::size_t total,
                   const std::string& label, const json& run,
                   std::chrono::steady_clock::time_point start) {
  const auto elapsed = std::chrono::steady_clock::now() - start;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(
      elapsed * static_cast<double>(total - done) / static_cast<double>(done));
  const bool valid = run["valid"].get<bool>();
  const std::string verdict =
      valid ? fmt::format("{:.0f} conn/s", run["figures"]["conns_per_s"].get<double>())
            : "INVALID: " + run.value("invalid_reason", std::string());
  const std::string line = fmt::format("[{}/{}, {}:{:02} left] {}: {}", done, total,
                                       left.count() / 60, left.count() % 60, label, verdict);
  if (valid) {
    status.show(line);
  } else {
    status.clear();
    fmt::print(stderr, "{}\n", line);
  }
}

// An output file, opened before the first run so that a bad path fails at
// once (exit 2), not after minutes of measuring.
std::optional<std::ofstream> open_output(const std::string& path) {
  if (path.empty())
    return std::nullopt;
  std::ofstream out(path);
  if (!out)
    throw UsageError(fmt::format("{}: cannot write", path));
  return out;
}

int bench(const Options& options) {
  std::vector<std::string> skipped;
  const std::vector<Design> designs = find_designs(options, skipped);
  auto json_file = open_output(options.json_path);
  auto markdown_file = open_output(options.markdown_path);
  auto svg_file = open_output(options.svg_path);
  auto html_file = open_output(options.html_path);
  for (const auto& why : skipped) fmt::print(stderr, "csd-bench: skipping {}\n", why);

  const std::vector<LoadPoint> points = load_points(options);
  json document{{"tool", "csd-bench"},
                {"machine", describe_machine()},
                {"command", options.argv},
                {"options",
                 {{"reps", options.reps},
                  {"seed", options.seed},
                  {"sources", options.sources},
                  {"timeout_ms", options.timeout.count()}}},
                {"baseline", kBaselineName},
                {"designs", json::array()},
                {"skipped", skipped},
                {"points", json::array()},
                {"runs", json::array()}};
  for (const auto& d : designs) {
    document["designs"].push_back({{"name", d.manifest.name},
                                   {"model", d.manifest.model},
                                   {"manifest", d.manifest.path.string()},
                                   {"workers", d.manifest.workers},
                                   {"baseline", d.baseline}});
  }
  for (const auto& p : points)
    document["points"].push_back({{"clients", p.clients}, {"conns", p.conns}, {"bytes", p.bytes}});

  const auto plan = plan_runs(designs.size(), points.size(), options.reps, options.seed);
  const MeasureOptions measure{
      .sources = options.sources,
      .timeout = options.timeout,
      .port_count = port_count(document["machine"]["ip_local_port_range"])};
  std::vector<bool> did_not_start(designs.size(), false);
  const auto start = std::chrono::steady_clock::now();
  install_stop_handlers();
  csd::harness::StatusLine status(STDERR_FILENO);
  for (const auto& [d, p, rep] : plan) {
    if (stop_requested.load())
      break;
    const std::string& name = designs[d].manifest.name;
    // One failed start is reported, not waited for again at every point.
    json run = did_not_start[d]
                   ? json{{"valid", false},
                          {"started", false},
                          {"notes", json::array()},
                          {"invalid_reason", "not run: the server did not start in an earlier run"}}
                   : measure_run(designs[d], points[p], measure);
    did_not_start[d] = !run["started"].get<bool>();
    run.update({{"design", name}, {"point", p}, {"rep", rep}});
    document["runs"].push_back(std::move(run));
    if (!options.quiet) {
      show_progress(status, document["runs"].size(), plan.size(),
                    fmt::format("{} {}x{}x{} rep {}/{}", name, points[p].clients, points[p].conns,
                                bytes_text(points[p].bytes), rep + 1, options.reps),
                    document["runs"].back(), start);
    }
  }
  status.clear();
  document["planned_runs"] = plan.size();
  document["interrupted"] = document["runs"].size() < plan.size();
  document["summary"] = summarize(document);

  const std::string tables = text_report(document);
  fmt::print("{}", tables);
  std::fflush(stdout);
  if (json_file)
    *json_file << document.dump(2) << "\n";
  if (markdown_file)
    *markdown_file << markdown_report(document);
  if (svg_file)
    *svg_file << csd::report::bench_figure_svg(document);
  if (html_file)
    csd::report::write_bench_html(document, tables, *html_file);
  const auto written = [](std::optional<std::ofstream>& file) { return !file || file->flush(); };
  if (!written(json_file) || !written(markdown_file) || !written(svg_file) || !written(html_file)) {
    fmt::print(stderr, "csd-bench: writing the results failed\n");
    return kExitInvalidRuns;
  }
  if (document["interrupted"].get<bool>())
    return kExitInterrupted;
  const bool all_valid = std::ranges::all_of(
      document["runs"], [](const json& run) { return run["valid"].get<bool>(); });
  return all_valid ? kExitOk : kExitInvalidRuns;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_options(argc, argv, std::max(1U, std::thread::hardware_concurrency()));
  if (const int* code = std::get_if<int>(&parsed))
    return *code;
  try {
    return bench(std::get<Options>(parsed));
  } catch (const UsageError& e) {
    fmt::print(stderr, "csd-bench: {}\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "csd-bench: {}\n", e.what());
    return kExitInvalidRuns;
  }
}
