// The command line every reference server shares (CLI11):
//   -i/--host HOST      numeric IPv4/IPv6 address to listen on (127.0.0.1)
//   -p/--port PORT      0 = an ephemeral port, printed on the listening line (0)
//   --backlog N         listen()'s backlog                               (1024)
//   -n/--workers N      pool designs only: worker processes or threads (4)
//   --protocol size|echo                                             (size)
//   --max-bytes N       largest size request served                  (1 GiB)
//   --help
// plus the design's own flag, if it has one (csd-epoll's --edge, csd-prefork's
// --wait), declared with switch_flag, number_flag or choice_flag below: it
// is parsed, checked and shown in --help like the common ones. Bad input
// prints a clear message and exits with status 2.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols.hpp"
#include "request_reader.hpp"
#include "sockets.hpp"

namespace CLI {
class App;
}

namespace csd::impl {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  int backlog = kListenBacklog;
  unsigned workers = 4;
  Protocol protocol = Protocol::size;
  uint64_t max_bytes = kDefaultMaxBytes;
};

struct ProgramInfo {
  std::string_view name;         // "csd-prefork"
  std::string_view description;  // one line for --help
  bool has_workers = false;      // offer -n/--workers
  bool serves_protocol = true;   // offer --protocol and --max-bytes (false: a demo of impl/demos)
};

// Adds a design's own flag to the parser, after the common ones.
using DesignFlag = std::function<void(CLI::App&)>;

// Parses argv; on --help prints usage and exits 0, on bad input exits 2.
// `design_flag`, if given, adds the design's own flag to the same parser.
Options parse_options(const ProgramInfo& program, int argc, char** argv,
                      const DesignFlag& design_flag = {});

// ---- A design's own flag, one line in its main().

// --edge: a switch, `on` when given.
DesignFlag switch_flag(std::string name, std::string help, bool& on);

// --max-threads N: an integer from `min` to `max` (CLI::Range); `value`
// holds the default.
DesignFlag number_flag(std::string name, std::string help, unsigned& value, unsigned min,
                       unsigned max);

// --wait accept|select|...: one of `choices` (CLI::IsMember), each a name
// and the value it stands for; `chosen` holds the default.
template <typename Value>
DesignFlag choice_flag(std::string name, std::string help,
                       std::vector<std::pair<std::string, Value>> choices, Value& chosen);

// The untyped core of choice_flag: `choose(i)` gets the index of the name given.
DesignFlag choice_flag_of(std::string name, std::string help, std::vector<std::string> names,
                          std::size_t default_index, std::function<void(std::size_t)> choose);

template <typename Value>
DesignFlag choice_flag(std::string name, std::string help,
                       std::vector<std::pair<std::string, Value>> choices, Value& chosen) {
  std::vector<std::string> names;
  std::size_t default_index = 0;
  for (const auto& [choice_name, value] : choices) {
    if (value == chosen)
      default_index = names.size();
    names.push_back(choice_name);
  }
  return choice_flag_of(std::move(name), std::move(help), std::move(names), default_index,
                        [&chosen, choices](std::size_t i) { chosen = choices[i].second; });
}

}  // namespace csd::impl
