#include "protocols.hpp"

#include <algorithm>
#include <array>

#include "request_reader.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"

namespace csd::impl {

std::string_view to_string(Protocol p) { return p == Protocol::echo ? "echo" : "size"; }

std::span<const std::byte> reply_chunk(uint64_t remaining) {
  static const auto payload = [] {
    std::array<std::byte, kReplyChunk> bytes{};
    bytes.fill(std::byte{'x'});
    return bytes;
  }();
  return std::span(payload).first(
      static_cast<std::size_t>(std::min<uint64_t>(remaining, kReplyChunk)));
}

bool send_size_reply(int fd, uint64_t n) {
  while (n > 0) {
    const auto chunk = reply_chunk(n);
    if (!write_all(fd, chunk)) {
      log_errno("write");
      return false;
    }
    n -= chunk.size();
  }
  return true;
}

void echo_until_eof(int fd) {
  std::array<char, kReplyChunk> buf{};
  for (;;) {
    const ssize_t n = Read(fd, buf);
    if (n == 0)
      return;  // the client half-closed: everything is echoed
    if (n < 0) {
      log_errno("read");
      return;
    }
    if (!write_all(fd, std::as_bytes(std::span(buf).first(static_cast<std::size_t>(n))))) {
      log_errno("write");
      return;
    }
  }
}

void serve_blocking(Fd conn, Protocol protocol, uint64_t max_bytes) {
  if (protocol == Protocol::echo) {
    echo_until_eof(conn.get());
  } else if (const auto n = read_size_request(conn.get(), max_bytes)) {
    send_size_reply(conn.get(), *n);
  }
}  // conn closes here

}  // namespace csd::impl
