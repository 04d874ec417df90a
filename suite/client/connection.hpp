// One client TCP connection with deadlines on every blocking step. Used by
// csd-client and by the suite's checks; it shares nothing with the reference
// servers' protocol code, so it can see their bugs.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "fd.hpp"

namespace csd::client {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_in(Clock::duration d) { return Clock::now() + d; }

// A point past which no wait of the client lasts, whatever its own deadline:
// csd-suite sets it to the running check's budget, so that a load of a
// thousand exchanges with a server that stopped answering ends there, not a
// thousand deadlines later. A wait cut off ends as a timeout. Any thread.
void set_cutoff(std::optional<Deadline> cutoff);

struct Target {
  std::string host;  // numeric IPv4 or IPv6 address (127.0.0.1, ::1)
  uint16_t port = 0;
};

// A socket address with its length; printable as "HOST:PORT" / "[HOST]:PORT".
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  [[nodiscard]] uint16_t port() const;
  [[nodiscard]] std::string to_string() const;
  static std::optional<SockAddr> parse(std::string_view host, uint16_t port);
};

// Why a step ended. `ok` only when the step did all it was asked.
enum class Status { ok, eof, reset, refused, timeout, error };
std::string_view to_string(Status s);
// By name, as to_string(): what googletest prints of a Status in a failure.
std::ostream& operator<<(std::ostream& out, Status s);

struct StepResult {
  Status status = Status::ok;
  std::size_t bytes = 0;  // bytes moved by this step
  int error = 0;          // errno when status is error/reset/refused
  std::string_view call;  // the system call that failed ("connect", "recv"); empty when none did
};

// What the peer did after the reply was complete.
enum class Ending {
  eof,          // orderly close (FIN)
  reset,        // RST
  extra_bytes,  // the server sent more than asked
  still_open,   // nothing within the wait (allowed: the seed's server02 keeps it open)
};
std::string_view to_string(Ending e);
std::ostream& operator<<(std::ostream& out, Ending e);  // by name

class Connection {
 public:
  // Connects with a deadline (non-blocking connect + poll). `source`, when
  // given, is bound first (a 127.x.y.z address to spread ephemeral ports).
  // On failure returns nullopt and fills `failure`.
  static std::optional<Connection> open(const Target& target, Deadline deadline,
                                        StepResult* failure = nullptr,
                                        const SockAddr* source = nullptr);
  // Same, with the address already parsed (the load loop parses it once).
  static std::optional<Connection> open(const SockAddr& address, Deadline deadline,
                                        StepResult* failure = nullptr,
                                        const SockAddr* source = nullptr);
  // Starts the connect and returns without waiting for it: the first
  // send_all/read_exact/read_to_end completes it within its own deadline, and
  // a failed connect then shows there with call "connect". Saves a poll per
  // connection on the load client's hot path; open() is start() + the wait.
  static std::optional<Connection> start(const SockAddr& address, StepResult* failure = nullptr,
                                         const SockAddr* source = nullptr);
  [[nodiscard]] bool connecting() const { return connecting_; }

  [[nodiscard]] int fd() const { return fd_.get(); }
  [[nodiscard]] SockAddr local_address() const;
  [[nodiscard]] SockAddr peer_address() const;

  void set_nodelay(bool on = true);
  void set_receive_buffer(int bytes);  // SO_RCVBUF, for slow-reader checks
  void shutdown_write();               // half-close (echo protocol)
  void abort();                        // SO_LINGER 0 + close: sends RST

  StepResult send_all(std::span<const std::byte> data, Deadline deadline);
  StepResult send_all(std::string_view text, Deadline deadline);

  // Reads exactly `n` bytes (fewer on eof/reset/timeout). When `sink` is
  // non-empty the bytes are copied there (sink.size() >= n), else discarded.
  StepResult read_exact(std::size_t n, Deadline deadline, std::span<std::byte> sink = {});

  // Reads whatever arrives until EOF/reset/deadline; appends to `out` if given.
  // Status ok means EOF was reached (that is what it was asked for).
  StepResult read_to_end(Deadline deadline, std::string* out = nullptr);

  // After a complete reply: waits up to `wait` for EOF, RST or stray bytes.
  // Stray bytes are read and counted (into `extra`) until the peer ends or
  // the wait is over; any error other than ECONNRESET also reads as reset.
  Ending await_ending(Clock::duration wait, std::size_t* extra = nullptr);

  // True if the peer closed (EOF or RST) within `wait`, reading and
  // discarding any data; false if the connection is still open.
  bool closed_within(Clock::duration wait);

 private:
  explicit Connection(Fd fd, bool connecting) : fd_(std::move(fd)), connecting_(connecting) {}
  // The name of a failed call: while the connect is unconfirmed, its error is
  // the connect's, whichever call happened to report it.
  [[nodiscard]] std::string_view call_name(std::string_view call) const {
    return connecting_ ? "connect" : call;
  }
  Fd fd_;
  bool connecting_ = false;  // start() returned before the handshake was confirmed
};

}  // namespace csd::client
