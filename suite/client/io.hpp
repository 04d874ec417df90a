// Internals of csd_clientlib shared by connection.cpp and load.cpp. Not part of
// the contract other components code against; they may change freely.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "connection.hpp"

namespace csd::client::detail {

// The calling thread's receive buffer. One per thread, reused for every
// connection, so the hot path never allocates for the bytes it discards.
inline constexpr std::size_t kScratchSize = std::size_t{64} * 1024;
std::span<std::byte> scratch();

// Waits until `fd` reports one of `events` or `deadline` passes. Returns the
// revents (> 0), 0 on timeout, or -1 with errno set. EINTR is retried against
// the same deadline, so a signal never shortens or lengthens the wait.
int wait_ready(int fd, short events, Deadline deadline);

// How an errno from connect/send/recv reads as a step status.
Status status_from_errno(int error);

// "call: Connection refused": the form every error message in csd uses.
std::string errno_text(std::string_view call, int error);

// A step that did all it was asked, having moved `bytes`.
inline StepResult ok_step(std::size_t bytes) {
  return {.status = Status::ok, .bytes = bytes, .error = 0, .call = {}};
}

// A step that failed in `call` with `error`, classified.
StepResult failed_step(std::string_view call, int error, std::size_t bytes = 0);

}  // namespace csd::client::detail
