// Implementation manifests: one JSON file describes one server under test.
// Format (README.md, "Testing your own server"): name, command (with {host} {port} {workers},
// and {backlog} for a server whose listen() backlog the suite may choose),
// protocol (size|echo), model, workers. Optional: "ready" ("line"|"port"),
// "accept_wakeup" ("fifo"|"lifo"|"all"|"some"): whom the kernel wakes per
// connection; "nofile" (integer): the RLIMIT_NOFILE the server runs with;
// "ipv6" (boolean): it serves on ::1 as well when {host} is ::1; "limits"
// ({"processes": N, "memory": SIZE, "file_size": SIZE}): what it may use.
// "model" may be "auto": csd-suite watches the server first and takes the
// model it shows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "limits.hpp"
#include "traits.hpp"

namespace csd::harness {

// A manifest that cannot be used. what() reads
// "PATH: field 'FIELD': problem", which csd-suite prints before exiting 2.
class ManifestError : public std::runtime_error {
 public:
  ManifestError(std::filesystem::path path, std::string field, const std::string& problem);
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] const std::string& field() const { return field_; }

 private:
  std::filesystem::path path_;
  std::string field_;
};

enum class WireProtocol { size, echo };
std::string_view to_string(WireProtocol p);
std::ostream& operator<<(std::ostream& out, WireProtocol p);  // by name

struct Manifest {
  std::filesystem::path path;        // the file it came from
  std::string name;                  // also the gtest parameter name (sanitized)
  std::vector<std::string> command;  // command[0] resolved to an absolute executable
  WireProtocol protocol = WireProtocol::size;
  std::string model;  // one of known_models() (traits.hpp)
  Traits traits;      // what the model stands for, with the declared accept_wakeup
  // "model": "auto": the design is watched (suite/observe), not declared.
  // Until then, and where the observation fits no design, `model` is other;
  // assume_model() makes it the model observed.
  bool model_auto = false;
  // For an auto manifest once watched: the model seen at the start, or
  // "unknown" (then `model` stays other); shape/declared-model holds the
  // server to it. Empty until assume_model().
  std::string observed_model;
  int workers = 0;                // 0 when the manifest gives none
  bool prints_ready_line = true;  // false: readiness is a listening port only
  // RLIMIT_NOFILE (soft and hard) set before the server's exec; none: inherited.
  std::optional<int> nofile;
  ServerLimits limits;  // processes, memory, file size (descriptors: nofile)
  bool ipv6 = false;    // declared: given -i ::1 ({host}), it listens on ::1
  // The address the suite starts it on and connects to: "::1" for the
  // NAME@ipv6 copy with_ipv6_variants() adds.
  std::string host = "127.0.0.1";
  [[nodiscard]] bool ipv6_variant() const { return host == "::1"; }
  // What the manifest says: "auto", or its model.
  [[nodiscard]] std::string declared_model() const {
    return model_auto ? std::string(kAutoModel) : model;
  }
};

// An auto manifest made the model `observed` (a known model, or anything
// else, such as "unknown", for other): its traits, so that the observed
// design's checks apply; its declared accept_wakeup kept.
void assume_model(Manifest& m, std::string_view observed);

// What names the copy of a manifest on ::1: NAME@ipv6. csd-report's summary
// and HTML page fold the copy back into NAME's row by it.
inline constexpr std::string_view kIpv6VariantSuffix = "@ipv6";

// `manifests`, then for each one that declares "ipv6", a copy named
// NAME@ipv6 (test names .../NAME_ipv6) whose host is ::1: the correctness
// checks run a second time over IPv6.
std::vector<Manifest> with_ipv6_variants(std::vector<Manifest> manifests);

// The range a manifest's "nofile" may take.
inline constexpr int kMinNofile = 8;
inline constexpr int kMaxNofile = 1 << 20;

// Where a bare command name (no '/') is looked for: first each of
// `search_dirs` (csd-suite passes its own bin/ directory), then $PATH.
// A relative path with a '/' is relative to the manifest's directory.
Manifest load_manifest(const std::filesystem::path& file,
                       const std::vector<std::filesystem::path>& search_dirs = {});

// The directory of the running program (csd-suite, csd-bench): where the
// build puts every server, so the first place to look for a bare command name.
std::filesystem::path own_bin_dir();

// The reference implementations' manifests, which csd-suite and csd-bench run
// without --impl. Installed (cmake --install, the .deb): the data directory
// next to the program's bin/ (../share/csd/impls). Run from the build tree's
// bin/: the source tree's fixtures/impls. Anywhere else: the installed place,
// so that an error names where they should have been.
std::filesystem::path default_impl_dir();

// Every *.json file in `dir`, sorted by name. Throws ManifestError if `dir`
// cannot be listed.
std::vector<std::filesystem::path> manifest_files(const std::filesystem::path& dir);

// load_manifest() of each of manifest_files(dir).
std::vector<Manifest> load_manifest_dir(const std::filesystem::path& dir,
                                        const std::vector<std::filesystem::path>& search_dirs = {});

// True if the command passes {workers}: the suite can choose the pool's size.
bool command_takes_workers(const Manifest& m);

// True if the command passes {backlog}: the suite can choose listen()'s backlog.
bool command_takes_backlog(const Manifest& m);

// {backlog} unless a check asks for another: UNP's LISTENQ, the reference
// servers' own default.
inline constexpr int kDefaultBacklog = 1024;

// The argv with placeholders substituted.
std::vector<std::string> expand_command(const Manifest& m, std::string_view host, uint16_t port,
                                        int backlog = kDefaultBacklog);

// `name` made safe as a gtest parameter name: [A-Za-z0-9_] only.
std::string parameter_name(std::string_view name);

// How gtest prints a manifest parameter: its name, not its bytes.
inline void PrintTo(const Manifest& m, std::ostream* os) { *os << m.name; }

}  // namespace csd::harness
