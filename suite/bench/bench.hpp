// csd-bench: UNP Figure 30.1 on this machine (docs/BENCHMARKS.md).
//
// The command line (options.cpp) gives a matrix of load points; every design
// (designs.cpp) runs once per point per repetition on a fresh server, and
// each run is measured (measure.cpp) into one JSON object. The JSON document
// is the one structured result: the summary (summary.cpp) is computed from
// its runs, and the terminal and Markdown tables (render.cpp) from its summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "manifest.hpp"

namespace csd::bench {

using nlohmann::json;

inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalidRuns = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

// The minimal C iterative server (bench/citerative.c) every figure is measured against.
inline constexpr const char* kBaselineName = "csd-citerative";

struct Options {
  std::vector<int> clients;     // concurrent clients per load point
  std::vector<uint64_t> bytes;  // reply size per load point
  std::optional<int> conns;     // sequential connections per client; nullopt: per point
  int reps = 3;
  uint32_t seed = 1;               // of the run order's shuffles
  std::vector<std::string> impls;  // --impl manifests; empty: the default directory's
  std::vector<std::string> only;   // design names to keep
  std::string json_path;
  std::string markdown_path;
  std::string svg_path;   // Figure 30.1 as an SVG (suite/report/bench_figure.hpp)
  std::string html_path;  // the figure and the tables as one page
  int sources = 16;       // loopback source addresses the clients bind across
  std::chrono::milliseconds timeout{10000};
  bool quiet = false;
  std::vector<std::string> argv;  // as given, for the report
};

// The options, or the exit status when the program should stop now (after
// --help: 0; bad input: 2, with the reason on stderr).
std::variant<Options, int> parse_options(int argc, char** argv, unsigned cores);

// One cell of the load matrix: CLIENTS concurrent clients, each making CONNS
// sequential connections that ask for BYTES bytes.
struct LoadPoint {
  int clients = 1;
  int conns = 1;
  uint64_t bytes = 0;
};
std::vector<LoadPoint> load_points(const Options& options);

// "100", "4000", "1MiB".
std::string bytes_text(uint64_t bytes);

struct Design {
  harness::Manifest manifest;
  bool baseline = false;
};

// Bad input the user must fix (an --impl that cannot be used, an --only that
// names nothing): main prints what() and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The baseline first, then every size-protocol manifest of the default
// directory, or the --impl files; `skipped` gets "FILE: why" for each
// default manifest left out. Throws UsageError.
std::vector<Design> find_designs(const Options& options, std::vector<std::string>& skipped);

struct MeasureOptions {
  int sources = 16;
  std::chrono::milliseconds timeout{10000};
  int port_count = 28232;  // ephemeral ports per source address
};

// Starts the design's server, waits for its full pool, runs the load, waits
// until the tree is back to its idle shape, stops it (SIGTERM) and reads
// its tables. Never throws for a server that misbehaves: the run has
// "valid": false and the reason. Call from the main thread (the harness's
// parent-death signal is per thread).
json measure_run(const Design& design, const LoadPoint& point, const MeasureOptions& options);

// One row per design per load point, from the document's "designs",
// "points" and "runs": medians over the valid runs, the overhead over the
// baseline and conn/s over the baseline's paired by repetition.
json summarize(const json& document);

// The document's summary as aligned text tables (for a terminal), and as
// Markdown with the machine's facts first.
std::string text_report(const json& document);
std::string markdown_report(const json& document);

}  // namespace csd::bench
