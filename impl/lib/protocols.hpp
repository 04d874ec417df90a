// The two wire protocols, served the blocking way (csd-iterative, the
// children of the process designs and the threads of the threaded ones all
// serve one connection at a time like this), plus the reply payload that the
// event loops (csd-select, csd-poll, csd-epoll) write piecemeal.
//
//   size: read "N\n" (see request_reader.hpp), write exactly N bytes, close.
//   echo (RFC 862): write back everything read until the client half-closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "fd.hpp"

namespace csd::impl {

enum class Protocol { size, echo };
std::string_view to_string(Protocol p);

// Replies up to this size go out in one write() call, so a client that reads
// its reply with a single recv() (the seed's client.py) gets it whole; bigger
// ones go in pieces of this size from one reused buffer (N is never allocated).
inline constexpr std::size_t kReplyChunk = std::size_t{64} * 1024;

// The next piece of a reply with `remaining` bytes to go: min(remaining,
// kReplyChunk) bytes of a shared, pre-filled buffer.
std::span<const std::byte> reply_chunk(uint64_t remaining);

// Blocking: writes the n-byte reply. Reports and returns false on a write
// error (a client that reset or went away).
bool send_size_reply(int fd, uint64_t n);

// Blocking: echoes until EOF from the client. Reports read/write errors.
void echo_until_eof(int fd);

// One whole connection, the blocking way: request then reply (size), or the
// echo loop; then close.
void serve_blocking(Fd conn, Protocol protocol, uint64_t max_bytes);

}  // namespace csd::impl
