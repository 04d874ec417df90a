// csd-iterative: one client at a time (UNP 30.4's baseline, the seed's
// server01): accept, serve the client completely, close, accept the next.
//
// No concurrency at all: while one client is being served, everyone else
// waits in the kernel's listen queue (their connect() succeeds, the kernel
// completes the handshake, but nobody reads their request). One silent or
// slow client stalls the whole server. It is the yardstick the other designs
// are measured against, and for short requests it is hard to beat: no fork(),
// no threads, no bookkeeping.
//
// The client is served in plain sequential code, "read the request, write
// the reply", but every wait is a poll() on the connection *and* the signal
// pipe, so SIGINT/SIGTERM stop the server within a second even while it is
// stuck behind a client that sends nothing or reads nothing. (A blocking
// read() or write() would not do: the SignalPipe's handlers are SA_RESTART,
// so the call would resume and the stop request would wait for the client.)
// That is why the connection is non-blocking and the waits are explicit.
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <span>

#include <fmt/core.h>

#include "protocols.hpp"
#include "request_reader.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syserr.hpp"

namespace {

using namespace csd::impl;

// Thrown out of serving when SIGINT/SIGTERM arrives: main stops.
struct StopRequested {};

enum class Wait { ready, timed_out };

// Waits until `fd` is ready for `events`, or `timeout` passes (-1: no limit).
// Throws StopRequested when a stop signal arrives instead.
Wait wait_for(int fd, short events, SignalPipe& signals, int timeout_ms = -1) {
  for (;;) {
    std::array<pollfd, 2> fds{{{fd, events, 0}, {signals.fd(), POLLIN, 0}}};
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR)
        continue;
      throw syscall_error("poll");
    }
    if ((fds[1].revents & POLLIN) != 0 && signals.drain().stop())
      throw StopRequested{};
    if (ready == 0)
      return Wait::timed_out;
    if (fds[0].revents != 0)
      return Wait::ready;  // POLLHUP/POLLERR too: the next call reports it
  }
}

// Writes all of `data`, waiting for room whenever the socket is full.
// Returns false (reported) when the client went away.
bool write_fully(int fd, std::span<const std::byte> data, SignalPipe& signals) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        wait_for(fd, POLLOUT, signals);
        continue;
      }
      log_errno("write");
      return false;
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

// size: read "N\n" (bare digits count after 50 ms of silence, or at EOF),
// then write N bytes, 64 KiB per write() at most.
void serve_size(int fd, uint64_t max_bytes, SignalPipe& signals) {
  SizeRequestParser request(max_bytes);
  std::array<char, 512> buf{};
  while (request.status() == SizeRequestParser::Status::incomplete) {
    // Read first, wait only when there is nothing yet: the request has
    // usually arrived by the time the connection is accepted.
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN) {
        log_errno("read");
        return;
      }
      // Digits without a newline yet: wait for more only as long as the grace.
      const int timeout_ms =
          request.awaiting_newline() ? static_cast<int>(kBareNumberGrace.count()) : -1;
      if (wait_for(fd, POLLIN, signals, timeout_ms) == Wait::timed_out)
        request.end_of_input();
      continue;
    }
    if (n == 0) {
      request.end_of_input();  // EOF: bare digits are still a request
    } else {
      request.feed({buf.data(), static_cast<std::size_t>(n)});
    }
  }
  if (request.status() != SizeRequestParser::Status::complete) {
    if (!request.received_nothing())
      log_message(fmt::format("bad request: {}", request.error()));
    return;
  }
  for (uint64_t left = request.size(); left > 0;) {
    const auto chunk = reply_chunk(left);
    if (!write_fully(fd, chunk, signals))
      return;
    left -= chunk.size();
  }
}

// echo: write back everything read, until the client half-closes.
void serve_echo(int fd, SignalPipe& signals) {
  static std::array<std::byte, kReplyChunk> buf;  // one client at a time: one buffer
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n == 0)
      return;  // half-closed: everything is echoed
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN) {
        wait_for(fd, POLLIN, signals);
        continue;
      }
      log_errno("read");
      return;
    }
    if (!write_fully(fd, std::span(buf).first(static_cast<std::size_t>(n)), signals))
      return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-iterative", "iterative: one process serves one client at a time, start to finish"},
      argc, argv);
  try {
    ignore_sigpipe();
    const Listener listener = listen_tcp(opts.host, opts.port);
    // Non-blocking: poll() said readable, but the client may be gone by the
    // time we accept(), and then we must go back to waiting, not block.
    set_nonblocking(listener.fd.get());
    SignalPipe signals{SIGINT, SIGTERM};
    announce_listening(listener);

    for (;;) {
      // 1. Take the next client; wait (for it, or a stop signal) only when none is queued.
      errno = 0;
      csd::Fd conn = accept_connection(listener.fd.get(), ConnectionMode::nonblocking);
      if (!conn) {
        if (errno == EAGAIN)
          wait_for(listener.fd.get(), POLLIN, signals);
        continue;
      }
      // 2. Serve it completely. Nobody else is served meanwhile: that is the design.
      if (opts.protocol == Protocol::echo) {
        serve_echo(conn.get(), signals);
      } else {
        serve_size(conn.get(), opts.max_bytes, signals);
      }
      // 3. Close it (Fd's destructor) and go back for the next one.
    }
  } catch (const StopRequested&) {
    return 0;  // SIGINT/SIGTERM: the connection being served, if any, just closes
  } catch (const std::exception& e) {
    log_message(fmt::format("csd-iterative: {}", e.what()));
    return 1;
  }
}
