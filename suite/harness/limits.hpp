// What a server may use: processes, resident memory, the size of a file it
// writes, descriptors. A class's servers run side by side on one machine;
// one that forks without end or fills the disk must stop alone, and the
// report must say which limit stopped it. csd-guard enforces them
// (csd_guard.cpp: RLIMIT_FSIZE and RLIMIT_NOFILE are the kernel's; as root
// RLIMIT_NPROC is not enforced, so the guard counts the tree itself).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace csd::harness {

struct ServerLimits {
  std::optional<int> processes{};       // the tree's processes (threads aside)
  std::optional<uint64_t> memory{};     // the tree's resident memory, bytes
  std::optional<uint64_t> file_size{};  // the largest file a process may write, bytes
  std::optional<int> descriptors{};     // RLIMIT_NOFILE

  // Each limit the tighter of the two.
  [[nodiscard]] ServerLimits tightest(const ServerLimits& other) const;
  // csd-guard's options for them ("--max-processes", "64", ...).
  [[nodiscard]] std::vector<std::string> guard_options() const;
  // csd-suite's and csd-report's flags: sets the limit `flag` names
  // ("--max-processes", "--max-memory", "--max-file-size") from `value`
  // ("64", "512M"); false if `flag` names none or `value` is no count or size.
  bool set_from_flag(std::string_view flag, std::string_view value);
  // Those flags for the limits set, as one word each: "--max-processes=64",
  // "--max-memory=536870912", "--max-file-size=16777216" (descriptors have none).
  [[nodiscard]] std::vector<std::string> suite_flags() const;
  [[nodiscard]] bool any() const { return processes || memory || file_size || descriptors; }
};

// "4096", "512K", "64M", "1G" (powers of 1024, an optional "iB" or "B"):
// bytes; nullopt for anything else or 0.
std::optional<uint64_t> parse_size(std::string_view text);

// A "limits" object, as a manifest and a rubric spell it:
// {"processes": 64, "memory": "512M", "file_size": 1048576}. Throws
// BadLimits naming the key and what is wrong.
ServerLimits limits_from_json(const nlohmann::json& given);

class BadLimits : public std::runtime_error {
 public:
  BadLimits(std::string key, const std::string& problem)
      : std::runtime_error(problem), key_(std::move(key)) {}
  // "limits" for the object itself, else "limits.KEY".
  [[nodiscard]] const std::string& key() const { return key_; }

 private:
  std::string key_;
};

// "512 MiB", "1.5 GiB", "100 B": for people.
std::string size_text(uint64_t bytes);

// The limits every server of the run gets (csd-suite --max-*), tightened
// by each manifest's own; none until set.
void set_run_limits(const ServerLimits& limits);
const ServerLimits& run_limits();

// What csd-guard writes on stderr when a limit stops the tree, and what the
// suite finds in the server's output: "csd-guard: limit: processes: ...".
inline constexpr std::string_view kGuardLimitLine = "csd-guard: limit: ";

// The text after kGuardLimitLine in a server's output ("processes: the
// tree reached 71 processes, over its limit of 64; killed"), if a limit
// stopped it.
std::optional<std::string> find_limit_stop(std::string_view output);

// The test property (report.json: a figure) that holds find_limit_stop()'s text.
inline constexpr std::string_view kLimitProperty = "stopped_by_limit";

// How a failure for a limit begins, so that a report can lead with it:
// "the server was stopped by a limit: processes: the tree reached ...".
inline constexpr std::string_view kStoppedByLimit = "the server was stopped by a limit: ";

}  // namespace csd::harness
