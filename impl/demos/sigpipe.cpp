// csd-sigpipe: writes to a connection its peer has closed, one line per call and what it
// returned (the seed's sigpipe; UNP 5.12, 5.13). It sends the line csd-rstserver waits for,
// then waits in poll() for the peer's close. Against csd-rstserver, once the RST is in:
// the first write returns ECONNRESET and no signal, the second raises SIGPIPE / fails EPIPE.
// Against csd-rstserver --graceful (UNP 5.13), once the FIN is in: the first write succeeds
// and draws an RST, recv() then returns 0, and the second write raises SIGPIPE / fails EPIPE.
// --sigpipe default: SIGPIPE kills it; ignore (SIG_IGN) and nosignal (send(MSG_NOSIGNAL)):
// it exits with status 32, EPIPE's number. More: impl/README.md, "csd-sigpipe".
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "fd.hpp"
#include "server_options.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"

using namespace csd::impl;

namespace {

enum class Mode { default_action, ignore, nosignal };

// The peer's close can take a while to arrive only if something is wrong: then say so.
constexpr int kPeerCloseTimeoutMs = 10'000;

template <typename... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
  fmt::print(format, std::forward<Args>(args)...);
  fmt::print("\n");
  std::fflush(stdout);  // the next call may kill us: every line so far must be out
}

// "-1 EPIPE (Broken pipe)", or the count a call returned.
std::string outcome(ssize_t result, int err) {
  if (result >= 0)
    return std::to_string(result);
  return fmt::format("-1 {} ({})", ::strerrorname_np(err), std::strerror(err));
}

std::string poll_events(short revents) {
  std::string names;
  for (const auto& [bit, name] : {std::pair{POLLIN, "POLLIN"}, std::pair{POLLERR, "POLLERR"},
                                  std::pair{POLLHUP, "POLLHUP"}, std::pair{POLLRDHUP, "POLLRDHUP"}})
    if ((revents & bit) != 0)
      names += (names.empty() ? "" : "|") + std::string(name);
  return names.empty() ? "0" : names;
}

// Set explicitly either way: a parent that ignores SIGPIPE (a shell script, a CI runner)
// passes SIG_IGN on through exec, and the default case would silently become the ignore case.
void set_sigpipe(Mode mode) {
  struct sigaction sa {};
  sa.sa_handler = mode == Mode::ignore ? SIG_IGN : SIG_DFL;
  sigemptyset(&sa.sa_mask);
  if (::sigaction(SIGPIPE, &sa, nullptr) < 0)
    throw syscall_error("sigaction SIGPIPE");
  say("SIGPIPE: {}", mode == Mode::ignore     ? "SIG_IGN, so a write to a dead peer fails EPIPE"
                     : mode == Mode::nosignal ? "SIG_DFL, but writes use send(MSG_NOSIGNAL)"
                                              : "SIG_DFL, so a write to a dead peer kills us");
}

csd::Fd connect_to(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
      rc != 0)
    throw std::runtime_error(fmt::format("getaddrinfo {}: {}", host, ::gai_strerror(rc)));
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);
  csd::Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd)
    throw syscall_error("socket");
  if (restart_on_eintr([&] { return ::connect(fd.get(), found->ai_addr, found->ai_addrlen); }) < 0)
    throw syscall_error(fmt::format("connect {}:{}", host, port));
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len);
  char local_port[NI_MAXSERV] = "?";
  ::getnameinfo(reinterpret_cast<sockaddr*>(&local), len, nullptr, 0, local_port, sizeof local_port,
                NI_NUMERICSERV);
  say("connect({}:{}) = 0, from local port {}", host, port, local_port);
  return fd;
}

// Blocks in poll() until `events` or an error/hang-up is reported on `fd`; no sleep decides
// when the peer's segment has arrived. POLLERR|POLLHUP always come: that is the RST.
short wait_for(int fd, short events, std::string_view awaited) {
  pollfd watched{.fd = fd, .events = events, .revents = 0};
  const int ready = Poll({&watched, 1}, kPeerCloseTimeoutMs);
  if (ready == 0)
    throw std::runtime_error(fmt::format("poll: no {} within {} ms", awaited, kPeerCloseTimeoutMs));
  return watched.revents;
}

// One write of one byte, as `mode` says to write; prints the call, then what it returned,
// and returns errno (0 if it succeeded).
int write_once(int fd, Mode mode, int nth) {
  const bool nosignal = mode == Mode::nosignal;
  say("write #{}: {}", nth,
      nosignal ? R"(send(fd, "x", 1, MSG_NOSIGNAL))" : R"(write(fd, "x", 1))");
  const ssize_t n = restart_on_eintr(
      [&] { return nosignal ? ::send(fd, "x", 1, MSG_NOSIGNAL) : ::write(fd, "x", 1); });
  const int err = n < 0 ? errno : 0;
  say("write #{}: = {}{}", nth, outcome(n, err), err == ECONNRESET ? ", and no SIGPIPE" : "");
  return err;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"writes to a connection its peer has closed (csd-rstserver): ECONNRESET, SIGPIPE",
               "csd-sigpipe"};
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  Mode mode = Mode::default_action;
  app.add_option("-i,--host", host, "Numeric address of the server to connect to")
      ->capture_default_str();
  app.add_option("-p,--port", port, "Its port (csd-rstserver's listening line says)")
      ->required()
      ->check(CLI::Range(1, 65535));
  choice_flag<Mode>(
      "--sigpipe", "default: SIGPIPE kills; ignore: SIG_IGN, EPIPE; nosignal: MSG_NOSIGNAL, EPIPE",
      {{"default", Mode::default_action}, {"ignore", Mode::ignore}, {"nosignal", Mode::nosignal}},
      mode)(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help: 0; bad input: 2, as the servers do
  }

  return run_main("csd-sigpipe", [&] {
    set_sigpipe(mode);
    const csd::Fd conn = connect_to(host, port);
    // csd-rstserver closes once it has read a line: so its close comes after our connect().
    constexpr std::string_view kLine = "hello\n";
    if (Write(conn.get(), kLine) != static_cast<ssize_t>(kLine.size()))
      throw syscall_error("write");
    say(R"(write(fd, "hello\n", 6) = 6: the line the server waits for before it closes)");

    // How did the peer close? An RST: POLLERR|POLLHUP. A FIN: POLLRDHUP alone.
    const short closed = wait_for(conn.get(), POLLRDHUP, "FIN or RST from the peer");
    const bool reset = (closed & POLLERR) != 0;
    say("poll(POLLRDHUP) = 1, revents {}: the peer closed with {}", poll_events(closed),
        reset ? "an RST" : "a FIN");

    if (reset) {
      // The RST left a pending error (ECONNRESET) on the socket: the first write collects
      // it, with no signal; the connection is gone, so the next one is a write to nowhere.
      write_once(conn.get(), mode, 1);
    } else {
      // UNP 5.13: a FIN says only "no more data from me". The write goes out; the peer has
      // no socket for it any more and answers with an RST. Wait for that, as the RST case.
      write_once(conn.get(), mode, 1);
      const short after = wait_for(conn.get(), 0, "RST in answer to the write");
      say("poll(no events) = 1, revents {}: the RST arrived", poll_events(after));
      char byte = 0;
      const ssize_t got = restart_on_eintr([&] { return ::recv(conn.get(), &byte, 1, 0); });
      say("recv(fd, buf, 1, 0) = {}{}", outcome(got, errno),
          got == 0 ? ": end of file (the FIN came first), not ECONNRESET" : "");
    }
    const int err = write_once(conn.get(), mode, 2);  // default mode: SIGPIPE ends us in here
    return err;  // 32 (EPIPE) in the ignore and nosignal modes; 0 if the write succeeded
  });
}
