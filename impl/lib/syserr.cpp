#include "syserr.hpp"

#include <cstdio>
#include <string>

#include <fmt/core.h>

namespace csd::impl {

void log_message(std::string_view message) {
  const std::string line = fmt::format("{}\n", message);
  std::fwrite(line.data(), 1, line.size(), stderr);  // stderr is unbuffered: one write
}

void log_error(std::string_view call, int err) {
  log_message(fmt::format("{}: {}", call, std::generic_category().message(err)));
}

}  // namespace csd::impl
