// csd-sendfile: serves one file to every client, three ways: sendfile(2), read(2)+write(2),
// splice(2) through a pipe (the seed's sendfile demo). There is no request: a connection asks
// for the whole file, gets it, and is closed. Watch: with --nonblocking and a small --sndbuf
// every call moves only what fits in the send buffer, and the loops below must carry on from
// where the kernel stopped, after poll() says there is room again. More: impl/README.md.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "fd.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"

using namespace csd::impl;

namespace {

enum class Mode { sendfile, readwrite, splice };

// What one transfer took: the calls that moved bytes, how many of them moved
// less than asked (short returns), and how often the socket was full (EAGAIN).
struct Tally {
  uint64_t bytes = 0;
  unsigned calls = 0;
  unsigned short_returns = 0;
  unsigned full_waits = 0;
};

// A call that put bytes into the socket returned `moved` of `asked`, or -1:
// counts it, and on EAGAIN (non-blocking socket, send buffer full) waits in
// poll() until there is room. False when the connection failed (errno says why).
bool progressed(ssize_t moved, uint64_t asked, int sock, Tally& tally) {
  if (moved < 0) {
    if (errno != EAGAIN)
      return false;
    ++tally.full_waits;
    pollfd room{sock, POLLOUT, 0};
    Poll({&room, 1});
    return true;
  }
  ++tally.calls;
  tally.bytes += static_cast<uint64_t>(moved);
  if (static_cast<uint64_t>(moved) < asked)
    ++tally.short_returns;
  return true;
}

// sendfile(2): the kernel copies from the page cache to the socket; `offset`
// is ours (the file's position never moves), so a short return just goes on.
bool send_with_sendfile(int sock, int file, uint64_t size, Tally& tally) {
  off_t offset = 0;
  while (static_cast<uint64_t>(offset) < size) {
    const uint64_t asked = size - static_cast<uint64_t>(offset);
    const ssize_t moved = restart_on_eintr([&] { return ::sendfile(sock, file, &offset, asked); });
    if (!progressed(moved, asked, sock, tally) || moved == 0)
      return false;
  }
  return true;
}

// read(2) into our buffer, write(2) out of it: two copies through user space,
// and every short write leaves the rest of the buffer still to send.
bool send_with_readwrite(int sock, int file, uint64_t size, Tally& tally) {
  std::array<char, std::size_t{64} * 1024> buffer{};
  for (uint64_t offset = 0; offset < size;) {
    const ssize_t got = restart_on_eintr(
        [&] { return ::pread(file, buffer.data(), buffer.size(), static_cast<off_t>(offset)); });
    if (got <= 0)
      return false;  // 0: the file shrank under us
    for (ssize_t written = 0; written < got;) {
      const auto rest = static_cast<uint64_t>(got - written);
      const ssize_t moved =
          restart_on_eintr([&] { return ::write(sock, buffer.data() + written, rest); });
      if (!progressed(moved, rest, sock, tally))
        return false;
      written += moved > 0 ? moved : 0;
    }
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

// splice(2): file -> pipe -> socket, pages moved by reference, never copied
// to user space. The pipe holds what the socket has not taken yet.
bool send_with_splice(int sock, int file, uint64_t size, Tally& tally) {
  std::array<int, 2> ends{};
  if (::pipe2(ends.data(), O_CLOEXEC) < 0)
    throw syscall_error("pipe2");
  const csd::Fd pipe_out(ends[0]);
  const csd::Fd pipe_in(ends[1]);
  for (loff_t offset = 0; static_cast<uint64_t>(offset) < size;) {
    const ssize_t in_pipe = restart_on_eintr([&] {
      return ::splice(file, &offset, pipe_in.get(), nullptr, size - static_cast<uint64_t>(offset),
                      SPLICE_F_MOVE);
    });
    if (in_pipe <= 0)
      return false;
    for (ssize_t spliced = 0; spliced < in_pipe;) {
      const auto rest = static_cast<uint64_t>(in_pipe - spliced);
      const ssize_t moved = restart_on_eintr(
          [&] { return ::splice(pipe_out.get(), nullptr, sock, nullptr, rest, SPLICE_F_MOVE); });
      if (!progressed(moved, rest, sock, tally))
        return false;
      spliced += moved > 0 ? moved : 0;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string path;
  Mode mode = Mode::sendfile;
  bool nonblocking = false;
  unsigned sndbuf = 0;
  const Options opts = parse_options(
      {.name = "csd-sendfile",
       .description =
           "serves one file to every client, then closes: sendfile, read/write or splice",
       .serves_protocol = false},
      argc, argv, [&](CLI::App& app) {
        app.add_option("--file", path, "The file every client gets")
            ->required()
            ->check(CLI::ExistingFile);
        choice_flag("--mode", "How the bytes go from the file to the socket",
                    {{"sendfile", Mode::sendfile},
                     {"readwrite", Mode::readwrite},
                     {"splice", Mode::splice}},
                    mode)(app);
        switch_flag("--nonblocking", "Accepted sockets are non-blocking (short returns, EAGAIN)",
                    nonblocking)(app);
        number_flag("--sndbuf", "SO_SNDBUF of each connection in bytes (0: the kernel's)", sndbuf,
                    0, 1U << 30)(app);
      });
  const char* const mode_name = mode == Mode::sendfile    ? "sendfile"
                                : mode == Mode::readwrite ? "read/write"
                                                          : "splice";
  return run_main("csd-sendfile", [&] {
    ignore_sigpipe();  // a client that leaves early costs an EPIPE, not the process
    exit_on_stop_signals();
    const csd::Fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file)
      throw syscall_error("open " + path);
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    announce_listening(listener);

    for (;;) {
      const csd::Fd conn = accept_connection(
          listener.fd.get(), nonblocking ? ConnectionMode::nonblocking : ConnectionMode::blocking);
      if (!conn)
        continue;
      if (sndbuf > 0 && ::setsockopt(conn.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0)
        throw syscall_error("setsockopt SO_SNDBUF");
      struct stat st {};
      if (::fstat(file.get(), &st) < 0)
        throw syscall_error("fstat " + path);
      const auto size = static_cast<uint64_t>(st.st_size);

      Tally tally;
      const bool whole =
          mode == Mode::sendfile    ? send_with_sendfile(conn.get(), file.get(), size, tally)
          : mode == Mode::readwrite ? send_with_readwrite(conn.get(), file.get(), size, tally)
                                    : send_with_splice(conn.get(), file.get(), size, tally);
      if (!whole) {  // the client left early (EPIPE, ECONNRESET), or the file shrank
        const int err = errno;
        log_error(fmt::format("{} after {} of {} bytes", mode_name, tally.bytes, size), err);
      }
      fmt::print("sent {} bytes with {}: {} calls, {} short, {} waits for room\n", tally.bytes,
                 mode_name, tally.calls, tally.short_returns, tally.full_waits);
      std::fflush(stdout);
    }  // the connection closes here: after the last byte, a FIN
  });
}
