// The command line every reference server shares (CLI11):
//   -i/--host HOST      numeric IPv4/IPv6 address to listen on (127.0.0.1)
//   -p/--port PORT      0 = an ephemeral port, printed on the listening line (0)
//   -n/--workers N      pool designs only: number of worker processes (4)
//   --protocol size|echo                                             (size)
//   --max-bytes N       largest size request served                  (1 GiB)
//   --help
// Bad input prints a clear message and exits with status 2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols.hpp"
#include "request_reader.hpp"

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

// Parses argv; on --help prints usage and exits 0, on bad input exits 2.
Options parse_options(const ProgramInfo& program, int argc, char** argv);

}  // namespace csd::impl
