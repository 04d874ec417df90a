// Reporting failed system calls. Every message names the call and the errno
// text ("accept: Too many open files"): a server that fails silently is a
// server nobody can debug.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>

namespace csd::impl {

// Prints "CALL: strerror(err)" to stderr (one write, so lines from several
// processes sharing stderr do not interleave).
void log_error(std::string_view call, int err);

// log_error(call, errno).
inline void log_errno(std::string_view call) { log_error(call, errno); }

// Prints MESSAGE to stderr as one line.
void log_message(std::string_view message);

// For setup failures that end the program: what() reads "CALL: strerror".
inline std::system_error syscall_error(const std::string& call, int err = errno) {
  return {err, std::generic_category(), call};
}

}  // namespace csd::impl
