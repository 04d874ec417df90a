#include "request_reader.hpp"

#include <array>
#include <ostream>
#include <utility>

#include <fmt/core.h>

#include "syscalls.hpp"
#include "syserr.hpp"

namespace csd::impl {

std::string_view to_string(SizeRequestParser::Status status) {
  switch (status) {
    case SizeRequestParser::Status::incomplete:
      return "incomplete";
    case SizeRequestParser::Status::complete:
      return "complete";
    case SizeRequestParser::Status::invalid:
      return "invalid";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, SizeRequestParser::Status status) {
  return out << to_string(status);
}

SizeRequestParser::Status SizeRequestParser::fail(std::string why) {
  error_ = std::move(why);
  return status_ = Status::invalid;
}

SizeRequestParser::Status SizeRequestParser::feed(std::string_view bytes) {
  for (const char c : bytes) {
    if (status_ != Status::incomplete)
      break;  // pipelined bytes after "\n" are ignored
    received_ = true;
    if (c == '\n') {
      if (digits_ == 0)
        return fail("empty request line");
      status_ = Status::complete;
    } else if (saw_cr_) {
      return fail("\"\\r\" not followed by \"\\n\"");
    } else if (c == '\r') {
      if (digits_ == 0)
        return fail("empty request line");
      saw_cr_ = true;
    } else if (c >= '0' && c <= '9') {
      if (++digits_ > kMaxDigits)
        return fail(fmt::format("more than {} digits", kMaxDigits));
      const auto digit = static_cast<uint64_t>(c - '0');
      if (__builtin_mul_overflow(value_, 10U, &value_) ||
          __builtin_add_overflow(value_, digit, &value_) || value_ > max_bytes_) {
        return fail(fmt::format("asks for more than the limit of {} bytes", max_bytes_));
      }
    } else {
      return fail(fmt::format("non-digit byte 0x{:02x}", static_cast<unsigned char>(c)));
    }
  }
  return status_;
}

SizeRequestParser::Status SizeRequestParser::end_of_input() {
  if (status_ != Status::incomplete)
    return status_;
  if (digits_ == 0)
    return fail(received_ ? "no digits" : "no request");
  return status_ = Status::complete;  // bare digits, the seed client's style
}

std::optional<uint64_t> read_size_request(int fd, uint64_t max_bytes,
                                          std::chrono::milliseconds grace) {
  SizeRequestParser parser(max_bytes);
  std::array<char, 512> buf{};
  while (parser.status() == SizeRequestParser::Status::incomplete) {
    // Digits but no newline yet: wait for more only as long as the grace.
    if (parser.awaiting_newline()) {
      const int ready = readable_timeo(fd, grace);
      if (ready < 0) {
        log_errno("poll");
        return std::nullopt;
      }
      if (ready == 0) {
        parser.end_of_input();
        break;
      }
    }
    const ssize_t n = Read(fd, buf);
    if (n < 0) {
      log_errno("read");
      return std::nullopt;
    }
    if (n == 0) {
      parser.end_of_input();  // EOF: bare digits are still a request
    } else {
      parser.feed({buf.data(), static_cast<std::size_t>(n)});
    }
  }
  if (parser.status() == SizeRequestParser::Status::complete)
    return parser.size();
  if (!parser.received_nothing())
    log_message(fmt::format("bad request: {}", parser.error()));
  return std::nullopt;
}

}  // namespace csd::impl
