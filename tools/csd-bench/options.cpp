#include "options.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

namespace csd::bench {

namespace {

constexpr int kMaxClients = 1000;
constexpr int kMaxConns = 10'000'000;
constexpr int kMaxReps = 100;
constexpr uint64_t kMaxBytes = uint64_t{1} << 30;  // the servers' default limit

// Stevens' parameters (UNP 30.1): 5 clients x 500 connections x 4000 bytes;
// the iterative baseline with 1 client x 5000.
constexpr int kUnpClients = 5;
constexpr int kUnpConns = 500;
constexpr uint64_t kUnpBytes = 4000;
constexpr int kUnpBaselineClients = 1;
constexpr int kUnpBaselineConns = 5000;

// Connections per run, total over its clients, when --conns is not given.
// Sized so that the default matrix (12 points x 3 reps x 18 designs) takes
// about two minutes on 2 cores (1.5 idle, 2.5 busy with other work): a run
// is 100-300 ms of load (1 client is the slowest, latency-bound) plus about
// 12 ms to start and stop the server.
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
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

struct Raw {
  std::vector<int> clients;
  std::vector<uint64_t> bytes;
  int conns = 0;
  double timeout_s = 10.0;
};

std::string help_text(unsigned cores) {
  return fmt::format(
      "csd-bench: UNP Figure 30.1 on this machine. Runs every design under the same csd-client "
      "load,\n"
      "interleaved over --reps repetitions, each run on a freshly started server, and prints\n"
      "one table per load point: connections/s, latency, server and system CPU per connection, "
      "wake-ups\n"
      "and EAGAIN accepts per connection, per-worker distribution and run health, each also as a "
      "ratio\n"
      "to the minimal C iterative server csd-citerative measured in the same run.\n"
      "\n"
      "Designs: every size-protocol manifest in the default directory (echo ones are skipped; a "
      "manifest\n"
      "that does not load, or whose program is missing, is reported and skipped), or the --impl "
      "files.\n"
      "csd-citerative is always included as the baseline row.\n"
      "\n"
      "Load matrix: --clients x --bytes (default clients 1,5,{} (2 x {} cores), bytes "
      "100,4000,16384,1MiB).\n"
      "Without --conns each client makes (total / clients) connections, total per run {} for up to "
      "4000\n"
      "bytes, {} for 16 KiB, {} below 1 MiB and {} at 1 MiB: the default matrix takes about two "
      "minutes\n"
      "on 2 cores. --preset unp is Stevens' load: 5 clients x 500 connections x 4000 bytes, the "
      "baseline\n"
      "with 1 client x 5000.\n"
      "\n"
      "Exit status: 0 all runs valid, 1 some run invalid (a connection error, a server that did "
      "not\n"
      "start), 2 bad usage or an --impl manifest that cannot be used, 130 interrupted (Ctrl-C; "
      "what was\n"
      "measured so far is still reported; a second Ctrl-C aborts at once). It never judges a time.",
      2 * cores, cores, auto_total_connections(100), auto_total_connections(16384),
      auto_total_connections(65536), auto_total_connections(kMiB));
}

void add_options(CLI::App& app, Options& o, Raw& raw) {
  app.add_option("--clients", raw.clients, "Concurrent clients per load point (list: 1,5,4)")
      ->delimiter(',')
      ->check(CLI::Range(1, kMaxClients))
      ->option_text("N,...");
  app.add_option(
         "--bytes", raw.bytes,
         "Reply sizes per load point (list; suffixes k, KiB, M, MiB are binary: 100,4000,1MiB)")
      ->delimiter(',')
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{0}, kMaxBytes))
      ->option_text("SIZE,...");
  app.add_option("--conns", raw.conns,
                 "Sequential connections per client (default: chosen per point, see above)")
      ->check(CLI::Range(1, kMaxConns))
      ->option_text("N");
  app.add_option("--reps", o.reps,
                 "Repetitions; every design runs once in each, in a shuffled order")
      ->check(CLI::Range(1, kMaxReps))
      ->option_text("N (3)");
  app.add_option("--seed", o.seed,
                 "Seed of the shuffles: each repetition runs the designs in its own order, so no "
                 "design always "
                 "follows the same one (the order is in the JSON)")
      ->option_text("N (1)");
  app.add_option("--impl", o.impls,
                 "A manifest to run instead of the default directory's (repeatable)")
      ->check(CLI::ExistingFile)
      ->option_text("FILE ...");
  app.add_option("--only", o.only,
                 "Keep only the design of this name (repeatable; the baseline always runs)")
      ->option_text("NAME ...");
  app.add_option("--preset", o.preset,
                 "unp: Stevens' load (5 clients x 500 conns x 4000 bytes; baseline 1 x 5000)")
      ->check(CLI::IsMember({"unp"}))
      ->option_text("unp");
  app.add_option("--json", o.json_path, "Write the raw runs and the summary as JSON to FILE")
      ->option_text("FILE");
  app.add_option("--markdown", o.markdown_path,
                 "Write the tables as Markdown to FILE (they also go to stdout)")
      ->option_text("FILE");
  app.add_option("--sources", o.sources,
                 "Bind client connections across 127.0.0.1..127.0.0.N (against TIME_WAIT and "
                 "ephemeral port "
                 "exhaustion)")
      ->check(CLI::Range(1, 65536))
      ->option_text("N (16)");
  app.add_option("--timeout", raw.timeout_s, "Seconds allowed per connection")
      ->check(CLI::Range(0.1, 3600.0))
      ->option_text("SECONDS (10)");
  app.add_option("--impl-dir", o.impl_dir, "Directory of the default manifests")
      ->check(CLI::ExistingDirectory)
      ->option_text("DIR (fixtures/impls)");
  app.add_flag("-q,--quiet", o.quiet,
               "No progress output (a bar on a terminal, a line per run otherwise); the table is "
               "still printed");
}

void apply_preset(Options& o, const Raw& raw, const CLI::App& app) {
  if (o.preset != "unp")
    return;
  if (app.count("--clients") == 0)
    o.clients = {kUnpClients};
  if (app.count("--bytes") == 0)
    o.bytes = {kUnpBytes};
  if (app.count("--conns") == 0)
    o.conns = kUnpConns;
  if (app.count("--conns") == 0 && raw.clients.empty()) {
    o.baseline_clients = kUnpBaselineClients;
    o.baseline_conns = kUnpBaselineConns;
  }
}

}  // namespace

int auto_conns_per_client(int clients, uint64_t bytes) {
  const int total = auto_total_connections(bytes);
  return std::max(1, (total + clients - 1) / clients);
}

std::string bytes_text(uint64_t bytes) {
  if (bytes >= kMiB && bytes % kMiB == 0)
    return fmt::format("{}MiB", bytes / kMiB);
  return fmt::format("{}", bytes);
}

std::variant<Options, int> parse_options(int argc, char** argv, unsigned cores) {
  Options o;
  o.impl_dir = CSD_DEFAULT_IMPL_DIR;
  Raw raw;
  CLI::App app{help_text(cores)};
  app.get_formatter()->column_width(28);
  add_options(app, o, raw);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  o.argv.assign(argv, argv + argc);
  const int doubled = static_cast<int>(std::max(cores, 1U) * 2);
  o.clients = raw.clients.empty() ? std::vector<int>{1, 5, doubled} : raw.clients;
  o.bytes = raw.bytes.empty() ? std::vector<uint64_t>{100, 4000, 16384, kMiB} : raw.bytes;
  if (raw.conns > 0)
    o.conns = raw.conns;
  apply_preset(o, raw, app);
  o.clients = sorted_unique(o.clients);
  o.bytes = sorted_unique(o.bytes);
  o.timeout = std::chrono::milliseconds(static_cast<int64_t>(raw.timeout_s * 1000.0));
  if (!o.impls.empty() && app.count("--impl-dir") > 0) {
    fmt::print(stderr, "csd-bench: give --impl or --impl-dir, not both\n");
    return kExitUsage;
  }
  return o;
}

}  // namespace csd::bench
