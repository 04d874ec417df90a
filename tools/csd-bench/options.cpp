#include <algorithm>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench.hpp"

namespace csd::bench {

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// Connections per run, over all its clients, when --conns is not given:
// enough for stable medians, few enough that the default matrix (12 points
// x 3 repetitions x 18 designs) takes about two minutes on 2 cores.
int auto_total_connections(uint64_t bytes) {
  if (bytes <= 4000)
    return 2000;
  if (bytes <= 16384)
    return 1500;
  if (bytes < kMiB)
    return 800;
  return 200;
}

template <typename T>
std::vector<T> sorted_unique(std::vector<T> values) {
  std::ranges::sort(values);
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

constexpr const char* kDescription = R"(NAME
  csd-bench - UNP Figure 30.1 on this machine: every design's CPU time per connection

SYNOPSIS
  csd-bench [--clients N,...] [--bytes B,...] [--conns N] [--reps R] [--seed S]
            [--impl FILE.json]... [--only NAME]... [--json FILE] [--markdown FILE]
            [--svg FILE] [--html FILE] [-q]

DESCRIPTION
  Every design under the same load, a fresh server per run, interleaved over repetitions
  in shuffled orders. Its headline is Stevens' process control CPU time: the server's CPU
  per connection minus that of csd-citerative, a minimal C iterative server measured in
  the same run. Prints the tables on stdout and one progress line per run on stderr.
  See docs/BENCHMARKS.md.
)";

constexpr const char* kFooter = R"(EXIT STATUS
  0    every run was valid (every connection got its whole reply)
  1    some run was invalid, or the results could not be written
  2    bad usage: an option out of range, an unknown design for --only, a bad manifest,
       an output file that cannot be opened, csd-citerative missing
  130  interrupted (SIGINT/SIGTERM): the tables of the runs made are printed

ENVIRONMENT
  CSD_GUARD  the csd-guard servers run under (default: next to csd-bench)

FILES
  share/csd/impls/*.json (installed) or fixtures/impls/*.json (the build): the designs
  measured without --impl; csd-citerative, the baseline, next to csd-bench.

EXAMPLES
  csd-bench                                     the default matrix, about two minutes
  csd-bench --only csd-fork --only csd-prefork --bytes 4000 --reps 5
  csd-bench --json bench.json --markdown bench.md
  csd-bench --clients 5 --bytes 4000 --reps 1 --svg figure.svg --html bench.html

SEE ALSO
  csd-client(1), csd-suite(1), docs/BENCHMARKS.md)";

}  // namespace

std::string bytes_text(uint64_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0)
    return fmt::format("{}MiB", bytes / kMiB);
  return fmt::format("{}", bytes);
}

std::vector<LoadPoint> load_points(const Options& options) {
  std::vector<LoadPoint> points;
  for (const int clients : options.clients) {
    for (const uint64_t bytes : options.bytes) {
      const int total = auto_total_connections(bytes);
      const int conns = options.conns.value_or(std::max(1, (total + clients - 1) / clients));
      points.push_back({.clients = clients, .conns = conns, .bytes = bytes});
    }
  }
  return points;
}

std::variant<Options, int> parse_options(int argc, char** argv, unsigned cores) {
  Options o;
  o.clients = {1, 5, static_cast<int>(2 * std::max(cores, 1U))};
  o.bytes = {100, 4000, 16384, kMiB};
  int conns = 0;
  double timeout_s = 10.0;
  CLI::App app{kDescription};
  app.option_defaults()->group("OPTIONS");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.footer(kFooter);
  app.add_option("--clients", o.clients, "Concurrent clients per load point (default 1,5,2×cores)")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000));
  app.add_option(
         "--bytes", o.bytes,
         "Reply size per load point; k, KiB, M, MiB are binary (default 100,4000,16384,1MiB)")
      ->delimiter(',')
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30));
  app.add_option("--conns", conns,
                 "Sequential connections per client (default: 2000 per run up to 4000 bytes, "
                 "1500 up to 16 KiB, 800 below 1 MiB, 200 at 1 MiB, split across the clients)")
      ->check(CLI::Range(1, 10'000'000));
  app.add_option("--reps", o.reps, "Repetitions (default 3)")->check(CLI::Range(1, 100));
  app.add_option("--seed", o.seed, "Seed of each repetition's shuffled run order (default 1)");
  app.add_option("--impl", o.impls, "Manifests to run instead of fixtures/impls' (repeatable)")
      ->check(CLI::ExistingFile);
  app.add_option("--only", o.only, "Keep only these designs (repeatable; the baseline runs too)");
  app.add_option("--json", o.json_path, "Write every run and the summary as JSON to FILE");
  app.add_option("--markdown", o.markdown_path, "Write the tables as Markdown to FILE");
  app.add_option("--svg", o.svg_path,
                 "Draw Figure 30.1 (overhead, conn/s and p99 per design) as SVG to FILE");
  app.add_option("--html", o.html_path, "Write the figure and the tables as one page to FILE");
  app.add_option("--sources", o.sources,
                 "Bind client connections across 127.0.0.1..127.0.0.N (default 16)")
      ->check(CLI::Range(1, 65536));
  app.add_option("--timeout", timeout_s, "Seconds allowed per connection (default 10)")
      ->check(CLI::Range(0.1, 3600.0));
  app.add_flag("-q,--quiet", o.quiet, "No progress lines on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  o.argv.assign(argv, argv + argc);
  o.clients = sorted_unique(o.clients);
  o.bytes = sorted_unique(o.bytes);
  if (conns > 0)
    o.conns = conns;
  o.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000.0));
  return o;
}

}  // namespace csd::bench
