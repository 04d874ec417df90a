// What a design is, as data: the traits a manifest's `model` stands for, in
// the manner of kselftest's FIXTURE_VARIANT. Checks read traits, never model
// names; kModelTraits (traits.cpp) is the one table that says which model has
// which, and a model added there needs no change to any check.
#pragma once

#include <array>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace csd::harness {

// Who serves a connection once it is accepted.
enum class Workers {
  none,                // the one process serves every client itself (iterative, event loops)
  process_per_client,  // a child forked for each connection (fork)
  thread_per_client,   // a thread started for each connection (thread)
  process_pool,        // worker processes forked up front (prefork, reuseport, ...)
  thread_pool,         // worker threads started up front (prethreaded, ...)
};
// Every Workers value, in the order above.
inline constexpr std::array kEveryWorkers{Workers::none, Workers::process_per_client,
                                          Workers::thread_per_client, Workers::process_pool,
                                          Workers::thread_pool};
std::string_view to_string(Workers w);
// By name, as to_string(): what googletest prints of one in a failure.
std::ostream& operator<<(std::ostream& out, Workers w);

// Whom a pool's idle workers' wait lets the kernel wake for one new
// connection. `fifo`: one waiter, the longest waiting (blocking accept, a
// futex-based lock). `lifo`: one waiter, the most recently idle
// (EPOLLEXCLUSIVE). `all`: every idle worker (select/poll/epoll on a shared
// listener: the thundering herd). `some`: more than one, not necessarily
// all, varying from one connection to the next (an fcntl lock: each unlock
// wakes the waiters queued behind the holder). `unspecified`: nobody said.
enum class AcceptWakeup { unspecified, fifo, lifo, all, some };
std::string_view to_string(AcceptWakeup w);
std::ostream& operator<<(std::ostream& out, AcceptWakeup w);  // by name

struct Traits {
  Workers workers = Workers::none;
  // Serves one client start to finish before it accepts the next (iterative).
  bool one_client_at_a_time = false;
  // One process or thread accepts every connection and hands it to a worker
  // of its choosing (fork, thread, prefork-fdpass, prethreaded-main); otherwise
  // the workers accept, and the kernel decides who gets each connection.
  bool parent_accepts = false;
  // Each worker listens on a socket of its own and the kernel hashes
  // connections across them (SO_REUSEPORT): a stuck worker holds up only the
  // clients hashed to it.
  bool listener_per_worker = false;
  // Who the kernel wakes per connection: the manifest's `accept_wakeup`.
  AcceptWakeup wakeup = AcceptWakeup::unspecified;

  [[nodiscard]] bool process_pool() const { return workers == Workers::process_pool; }
  [[nodiscard]] bool thread_pool() const { return workers == Workers::thread_pool; }
  [[nodiscard]] bool pool() const { return process_pool() || thread_pool(); }
  [[nodiscard]] bool worker_per_client() const {
    return workers == Workers::process_per_client || workers == Workers::thread_per_client;
  }
};

// The models the table knows, in its order: iterative, fork, select, poll,
// epoll, prefork, prefork-lock, prefork-fdpass, thread, prethreaded,
// prethreaded-main, reuseport, other.
std::vector<std::string> known_models();

// What a manifest's "model" says when it leaves the design to be observed
// (csd-suite watches the server before it registers any check): no model of
// the table, so known_models() does not list it.
inline constexpr std::string_view kAutoModel = "auto";

// The traits of a known model, `wakeup` left unspecified ("other" claims
// none). Throws std::out_of_range for a model the table does not know.
Traits traits_of_model(std::string_view model);

}  // namespace csd::harness
