// The size protocol's request: ASCII decimal digits, then "\n" (or "\r\n").
//
//   "4096\n"   -> 4096        "4096\r\n" -> 4096
//   "4096" + nothing more for kBareNumberGrace, or EOF -> 4096 (the seed's
//              client.py sends str(n) with no newline)
//   "\n", "12a\n", "-1\n", 21+ digits, N > limit       -> invalid
//
// SizeRequestParser is fed whatever bytes arrive, in any pieces, so a
// select()-style server can feed it from non-blocking reads; the caller owns
// the clock and calls end_of_input() when the grace period passes (or the
// client half-closes). Bytes after the newline are ignored: one request per
// connection. read_size_request() is the blocking helper built on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace csd::impl {

inline constexpr uint64_t kDefaultMaxBytes = 1073741824;  // 1 GiB
inline constexpr std::size_t kMaxDigits = 20;             // enough for any uint64_t
inline constexpr std::chrono::milliseconds kBareNumberGrace{50};

class SizeRequestParser {
 public:
  enum class Status { incomplete, complete, invalid };

  explicit SizeRequestParser(uint64_t max_bytes = kDefaultMaxBytes) : max_bytes_(max_bytes) {}

  // Consumes bytes. Once complete or invalid, further bytes are ignored.
  Status feed(std::string_view bytes);

  // No more bytes are coming for now: the grace period passed, or EOF.
  // Pending bare digits (optionally followed by "\r") become the request;
  // anything else is invalid.
  Status end_of_input();

  [[nodiscard]] Status status() const { return status_; }
  // Digits are waiting for a newline: the caller should run the grace clock
  // (and restart it whenever more bytes arrive).
  [[nodiscard]] bool awaiting_newline() const {
    return status_ == Status::incomplete && digits_ > 0;
  }
  // Not a single byte arrived (a port probe, or a client that gave up):
  // worth closing quietly rather than reporting.
  [[nodiscard]] bool received_nothing() const { return !received_; }
  // The requested byte count, when complete().
  [[nodiscard]] uint64_t size() const { return value_; }
  // Why the request is invalid, e.g. "non-digit byte 0x61".
  [[nodiscard]] const std::string& error() const { return error_; }

 private:
  Status fail(std::string why);

  uint64_t max_bytes_;
  uint64_t value_ = 0;
  std::size_t digits_ = 0;
  bool received_ = false;
  bool saw_cr_ = false;
  Status status_ = Status::incomplete;
  std::string error_;
};

// "incomplete", "complete", "invalid"; and so googletest prints it in a failure.
std::string_view to_string(SizeRequestParser::Status status);
std::ostream& operator<<(std::ostream& out, SizeRequestParser::Status status);

// Blocking: reads one request from `fd`. Bare digits are accepted after
// `grace` without a further byte (measured with poll()), or at EOF. Returns
// the size, or nullopt when the connection should just be closed; invalid
// requests and read errors are reported on stderr, a connection that sent
// nothing at all is not.
std::optional<uint64_t> read_size_request(int fd, uint64_t max_bytes,
                                          std::chrono::milliseconds grace = kBareNumberGrace);

}  // namespace csd::impl
