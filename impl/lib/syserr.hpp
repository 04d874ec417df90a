// Reporting failed system calls. Every message names the call and the errno
// text ("accept: Too many open files"): a server that fails silently is a
// server nobody can debug.
#pragma once

#include <cerrno>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

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

// The end of every reference program's main(), so that each main() shows only
// its design: runs `body` (main()'s work) and returns its exit status; a body
// with no return statement, a server's endless loop, counts as 0. A failure it
// throws (a setup call such as bind or fork) is printed with the program's
// name, "csd-fork: bind 127.0.0.1:80: Permission denied", and the status is 1:
// UNP's err_sys(), for a main(). By then `body`'s objects are destroyed, as if
// main() had returned.
template <typename Body>
int run_main(std::string_view program, Body&& body) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Body&>>) {
      body();
      return 0;
    } else {
      return body();
    }
  } catch (const std::exception& e) {
    log_message(std::string(program) + ": " + e.what());
    return 1;
  }
}

}  // namespace csd::impl
