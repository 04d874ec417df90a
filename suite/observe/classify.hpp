// Which design a server follows, from what an observation saw (snapshot.hpp):
// the snapshots are reduced to a few facts, and a table of rules, one per
// model (kselftest-style: data, read in order, the first that fits wins),
// names the model and says why in words. `unknown`, with the same evidence,
// where no rule fits.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "snapshot.hpp"

namespace csd::observe {

// Who served the first connection, by what that task did before it came.
enum class FirstServer {
  unseen,           // no task was seen reading it
  listener_waiter,  // a task that waited on the listener at idle: it accepted it itself
  lock_waiter,      // a task asleep on a lock at idle: handed the connection by another
  socket_reader,    // a task reading another socket at idle: passed the descriptor
  new_task,         // a process or thread that did not exist at idle
};
std::string_view to_string(FirstServer f);

// What the classifier reads: the snapshots reduced to counts.
struct Facts {
  std::vector<int> processes{};  // live processes at each step
  std::vector<int> threads{};    // their threads, all together, at each step
  int listening_sockets = 0;     // on the port, at idle
  int own_listeners = 0;         // of those, each waited on by one process, which waits on no other
  int accepted = 0;              // at the busiest step: connections held by a process
  int queued = 0;                // at the busiest step: left in the accept queue
  // At the busiest step, connections...
  int in_multiplexer = 0;     // waited on by a task asleep in select, poll or epoll
  int on_new_process = 0;     // held by a process that did not exist at idle
  int on_new_thread = 0;      // read by a thread that did not exist at idle
  std::string multiplexer{};  // the call of the task that multiplexes them
  // At idle, the tasks...
  int listener_waiters = 0;           // waiting on a listener (accept, or a multiplexer over it)
  int listener_waiter_processes = 0;  // the processes they are in
  std::string listener_call{};        // the call they wait in (the commonest)
  int lock_waiters = 0;               // asleep on a lock (futex, fcntl, flock, semop)
  int lock_waiter_processes = 0;
  std::string lock_call{};
  int socket_readers = 0;  // reading a socket that is neither listener nor connection
  std::string socket_call{};
  std::string root_call{};  // the call the main process's main thread sleeps in, at idle
  bool root_waits_on_listener = false;  // ... on the listener
  FirstServer first_served_by = FirstServer::unseen;
  bool settled = true;                      // every step stood still before its deadline
  [[nodiscard]] bool back_to_idle() const;  // processes and threads as at idle, once released
};

Facts facts_of(const Observation& observation);

struct Verdict {
  std::string model{};                  // one of harness::known_models(), or "unknown"
  std::string words{};                  // "a pool of 4 processes, each sleeps in accept()"
  std::string summary{};                // "prefork: " and the words
  std::vector<std::string> evidence{};  // one line per step, and what the rules read
  Facts facts{};
};

Verdict classify(const Observation& observation);

// The rule table, for the documentation: each model, in the order tried,
// what it needs to see, and what tells it from the designs it resembles.
struct RuleDoc {
  std::string_view model{};
  std::string_view needs{};
  std::string_view tells_apart{};
};
std::vector<RuleDoc> rule_docs();

// The evidence line of one snapshot: "idle: 5 processes, 5 threads; 4 in
// accept() on the listener, 1 in poll() on 2 other descriptors; ..."
std::string describe(const Snapshot& shot);

nlohmann::json to_json(const Facts& facts);
nlohmann::json to_json(const Snapshot& shot);

}  // namespace csd::observe
