// The load client: CLIENTS concurrent clients, each making CONNS sequential
// connections requesting BYTES bytes (the seed client.py's meaning), with a
// verdict per connection. csd-client is a thin CLI over run_load().
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "connection.hpp"

namespace csd::client {

enum class Protocol { size, echo };

// One connection's verdict. Everything but `ok` is a failure.
enum class Outcome { ok, short_reply, long_reply, refused, reset, timeout, error };
inline constexpr std::size_t kOutcomeCount = 7;
inline constexpr std::size_t kEndingCount = 4;  // values of Ending
std::string_view to_string(Outcome o);
std::ostream& operator<<(std::ostream& out, Outcome o);  // by name

struct FetchOptions {
  Protocol protocol = Protocol::size;
  uint64_t bytes = 3000;
  bool bare = false;  // size: send the digits without "\n", as client.py does
  std::chrono::milliseconds timeout{10000};         // whole connection
  std::chrono::milliseconds after_reply_wait{100};  // how long to watch for extra bytes
  // Echo: after the client's half-close the server must close (RFC 862 ends
  // the exchange there); this long, at most, for its FIN once all bytes are back.
  std::chrono::milliseconds echo_close_wait{3000};
};

struct FetchResult {
  Outcome outcome = Outcome::ok;
  uint64_t received = 0;
  std::chrono::nanoseconds latency{0};  // connect start to complete reply
  int error = 0;                        // errno for refused/reset/error
  std::string detail;                   // human-readable reason when not ok
  // How the peer ended a complete reply. RST after the full reply is still
  // `ok` (the client got what it asked for); it is counted in
  // LoadReport::endings so a check that cares can see it.
  Ending ending = Ending::eof;
};

// One request/response exchange on a new connection.
FetchResult fetch(const Target& target, const FetchOptions& options,
                  const SockAddr* source = nullptr);
// Same, with the address already parsed (the load loop parses it once).
FetchResult fetch(const SockAddr& address, const FetchOptions& options,
                  const SockAddr* source = nullptr);

// The echo protocol's payload: byte i is i % 251. The odd prime period makes
// a dropped, repeated or reordered chunk of any power-of-two size visible.
std::byte echo_pattern_byte(uint64_t offset);
// Fills `out` with the pattern starting at `offset`.
void echo_pattern(uint64_t offset, std::span<std::byte> out);

struct LoadOptions {
  Target target;
  int clients = 5;
  int conns = 500;
  FetchOptions fetch;
  int source_addresses =
      1;  // >1: bind connections across 127.0.0.1.. 127.0.0.N (IPv4 loopback only)
  // Past this point no client starts another connection (a check's share of
  // its budget): the load is as many of clients x conns as fit, and the
  // report says how many that was. Connections begun are finished.
  Deadline stop_starting_at = Deadline::max();
  // No client starts another connection once one has failed: for a check,
  // whose verdict is then known; csd-client measures every one.
  bool stop_at_first_failure = false;
};

struct LoadReport {
  uint64_t planned = 0;      // clients x conns
  uint64_t connections = 0;  // made: fewer than planned if the load was stopped
  std::array<uint64_t, kOutcomeCount> outcomes{};
  uint64_t bytes_received = 0;
  std::chrono::nanoseconds elapsed{0};
  std::vector<std::chrono::nanoseconds> latencies;  // of ok connections, sorted
  std::vector<std::string> first_failures;          // up to 10 details
  std::array<uint64_t, kEndingCount> endings{};     // of ok connections, indexed by Ending

  [[nodiscard]] uint64_t failures() const { return connections - outcomes[0]; }
  [[nodiscard]] bool all_ok() const { return connections > 0 && failures() == 0; }
  [[nodiscard]] double connections_per_second() const;
  [[nodiscard]] double bytes_per_second() const;
  [[nodiscard]] std::chrono::nanoseconds latency_percentile(double q) const;  // q in [0,1]
};

// Runs the load: `clients` std::jthreads, each making `conns` sequential
// fetches. Throws std::invalid_argument if target.host is not a numeric
// address (csd-client resolves names before calling). source_addresses > 1
// is ignored for targets other than IPv4 loopback.
LoadReport run_load(const LoadOptions& options);

void to_json(nlohmann::json& j, const LoadReport& report);
std::string format_human(const LoadReport& report);

}  // namespace csd::client
