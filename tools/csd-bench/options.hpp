// csd-bench's command line: the load matrix, the designs, the outputs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace csd::bench {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInvalidRuns = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

inline constexpr uint64_t kMiB = uint64_t{1} << 20;

struct Options {
  std::vector<int> clients;     // concurrent clients per load point
  std::vector<uint64_t> bytes;  // reply size per load point
  std::optional<int> conns;  // sequential connections per client; nullopt: chosen per point (auto)
  int reps = 3;
  uint32_t seed = 1;  // of the run order within each repetition
  std::vector<std::string>
      impls;  // manifests given with --impl; empty: every size manifest of the default dir
  std::vector<std::string> only;  // design names to keep
  std::string preset;             // "" or "unp"
  std::string json_path;
  std::string markdown_path;
  int sources = 16;  // loopback source addresses the client binds across
  std::chrono::milliseconds timeout{10000};
  bool quiet = false;                 // no progress output
  std::vector<std::string> argv;      // as given, for the report header
  std::string impl_dir;               // where the default manifests are
  std::optional<int> baseline_conns;  // --preset unp: the baseline's own load
  std::optional<int> baseline_clients;
};

// The connections each client makes at a point when --conns is not given:
// a total per run that keeps the default matrix near two minutes on 2 cores,
// split across the clients.
int auto_conns_per_client(int clients, uint64_t bytes);

// The reply sizes' text form: "100", "4000", "16384", "1MiB".
std::string bytes_text(uint64_t bytes);

// Parses argv. Returns the options, or the exit status when the program
// should stop now (after --help: 0; bad input: 2, with the reason on stderr).
std::variant<Options, int> parse_options(int argc, char** argv, unsigned cores);

}  // namespace csd::bench
