// The command line every reference server shares (CLI11):
//   -i/--host HOST      numeric IPv4/IPv6 address to listen on (127.0.0.1)
//   -p/--port PORT      0 = an ephemeral port, printed on the listening line (0)
//   -n/--workers N      pool designs only: number of worker processes (4)
//   --protocol size|echo                                             (size)
//   --max-bytes N       largest size request served                  (1 GiB)
//   --help
// plus any flags of the design's own (say csd-epoll's --edge), added through
// the same parser so they appear in --help and are checked the same way.
// Bad input prints a clear message and exits with status 2.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "protocols.hpp"
#include "request_reader.hpp"

namespace CLI {
class App;
}

namespace csd::impl {

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  unsigned workers = 4;
  Protocol protocol = Protocol::size;
  uint64_t max_bytes = kDefaultMaxBytes;
};

struct ProgramInfo {
  std::string_view name;         // "csd-prefork"
  std::string_view description;  // one line for --help
  bool has_workers = false;      // offer -n/--workers
};

// Adds a design's own options to the parser (app.add_option / add_flag,
// bound to the design's variables, with their checks), after the common ones.
using DesignOptions = std::function<void(CLI::App&)>;

// Parses argv; on --help prints usage and exits 0, on bad input exits 2.
// `design_options`, if given, adds the design's own flags to the same parser.
Options parse_options(const ProgramInfo& program, int argc, char** argv,
                      const DesignOptions& design_options = {});

}  // namespace csd::impl
