// The rule table: one row per model, tried in order; the first whose
// predicate holds names the design and says why. Each row also says, for
// the documentation (docs/IDENTIFY.md), what it needs to see and what tells
// it from the designs it resembles.
#include "classify.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "calls.hpp"

namespace csd::observe {

namespace {

struct Rule {
  std::string_view model;
  bool (*fits)(const Facts&);
  std::string (*says)(const Facts&);
  std::string_view needs;
  std::string_view tells_apart;
};

bool same_at_every_step(const std::vector<int>& counts, int value) {
  return counts.size() == kSteps.size() &&
         std::ranges::all_of(counts, [value](int n) { return n == value; });
}
bool one_process_one_thread(const Facts& f) {
  return same_at_every_step(f.processes, 1) && same_at_every_step(f.threads, 1);
}
bool all_multiplexed(const Facts& f, std::string_view family) {
  return one_process_one_thread(f) && f.in_multiplexer == kConnections &&
         f.accepted == kConnections && multiplexer_family(f.multiplexer) == family;
}
// Workers made up front: the same processes and threads with connections as
// without, none of them new.
bool process_pool(const Facts& f) {
  return f.processes.size() == kSteps.size() && f.processes[0] > 1 &&
         f.processes[1] == f.processes[0] && f.processes[2] == f.processes[0] &&
         f.on_new_process == 0;
}
bool thread_pool(const Facts& f) {
  return same_at_every_step(f.processes, 1) && f.threads[0] > 1 && f.threads[2] == f.threads[0] &&
         f.on_new_thread == 0;
}
bool one_shared_listener(const Facts& f) { return f.listening_sockets == 1; }

// "poll() on the listener" for a multiplexer, "accept()" for accept.
std::string listener_wait(const Facts& f) {
  if (f.listener_call.empty())
    return "?";
  return f.listener_call.starts_with("accept") ? f.listener_call + "()"
                                               : f.listener_call + "() on the listener";
}

std::string lock_words(std::string_view call) {
  if (call == "fcntl")
    return "an fcntl record lock";
  if (call == "futex" || call == "futex_waitv")
    return "a mutex";
  if (call == "flock")
    return "an flock lock";
  return "a semaphore";
}

std::string multiplexed(const Facts& f) {
  return fmt::format(
      "one process, one thread, sleeps in {}() on the listener and every "
      "connection",
      f.multiplexer);
}

const std::array kRules{
    Rule{"iterative",
         [](const Facts& f) {
           return one_process_one_thread(f) && f.in_multiplexer == 0 && f.accepted < kConnections &&
                  f.queued > 0;
         },
         [](const Facts& f) {
           return fmt::format(
               "one process, one thread, one connection at a time: it reads one "
               "while {} wait in the accept queue",
               f.queued);
         },
         "one process, one thread at every step; with 4 connections, one is read and the "
         "others wait in the accept queue",
         "the event loops (select, poll, epoll) accept every connection at once"},
    Rule{"select", [](const Facts& f) { return all_multiplexed(f, "select"); }, multiplexed,
         "one process, one thread; with 4 connections, all accepted, it sleeps in select() or "
         "pselect6() on them",
         "the call it sleeps in: select/pselect6, poll/ppoll, epoll_wait/epoll_pwait"},
    Rule{"poll", [](const Facts& f) { return all_multiplexed(f, "poll"); }, multiplexed,
         "as select, asleep in poll() or ppoll()", "as select"},
    Rule{"epoll", [](const Facts& f) { return all_multiplexed(f, "epoll"); }, multiplexed,
         "as select, asleep in epoll_wait() or epoll_pwait()",
         "as select; level- and edge-triggered alike (the flag is not seen from outside)"},
    Rule{"fork",
         [](const Facts& f) { return f.on_new_process == kConnections && f.back_to_idle(); },
         [](const Facts& f) {
           return "a new process per connection, gone after it" +
                  (f.listener_call.empty() ? std::string()
                                           : "; the parent sleeps in " + listener_wait(f));
         },
         "each of the 4 connections held by a process that did not exist at idle; once they "
         "are released, as many processes as at idle",
         "a pool's processes exist before any connection; a process that hands a connection "
         "to a new process is fork whatever it sleeps in (socat, ncat --sh-exec)"},
    Rule{"thread",
         [](const Facts& f) {
           return same_at_every_step(f.processes, 1) && f.on_new_thread == kConnections &&
                  f.back_to_idle();
         },
         [](const Facts& f) {
           return "a new thread per connection, gone after it" +
                  (f.listener_call.empty() ? std::string()
                                           : "; the main thread sleeps in " + listener_wait(f));
         },
         "one process; each connection read by a thread that did not exist at idle; as many "
         "threads as at idle once they are released",
         "a thread pool's threads exist before any connection"},
    Rule{"reuseport",
         [](const Facts& f) {
           return process_pool(f) && f.listening_sockets > 1 &&
                  f.own_listeners == f.listening_sockets;
         },
         [](const Facts& f) {
           return fmt::format(
               "a pool of {} processes, each with a listening socket of its own "
               "(SO_REUSEPORT), each sleeps in {}",
               f.own_listeners, listener_wait(f));
         },
         "a pool of processes; more than one socket listens on the port, each waited on by "
         "one process of its own",
         "prefork's processes share one listening socket"},
    Rule{"prefork-fdpass",
         [](const Facts& f) {
           return process_pool(f) && f.socket_readers > 0 &&
                  f.first_served_by == FirstServer::socket_reader;
         },
         [](const Facts& f) {
           return fmt::format("a parent in {}() and {} children in {}(): descriptor passing",
                              f.root_call, f.socket_readers, f.socket_call);
         },
         "a pool of processes whose idle workers read a socket that is neither the listener "
         "nor a client's (recvmsg() on a unix socket); the first connection is served by one "
         "of them",
         "the workers of prefork and prefork-lock wait on the listener or on a lock, and "
         "accept for themselves"},
    Rule{"prefork-lock",
         [](const Facts& f) {
           return process_pool(f) && one_shared_listener(f) && f.lock_waiter_processes > 0 &&
                  f.listener_waiter_processes > 0 &&
                  f.first_served_by == FirstServer::listener_waiter;
         },
         [](const Facts& f) {
           return fmt::format(
               "a pool of {} processes taking turns at the listener under {}: {} "
               "sleeps in {}, {} in {}()",
               f.listener_waiter_processes + f.lock_waiter_processes, lock_words(f.lock_call),
               f.listener_waiter_processes, listener_wait(f), f.lock_waiter_processes, f.lock_call);
         },
         "a pool of processes sharing one listener: at idle one waits on it, the others on a "
         "lock (futex, fcntl, flock, semop); the one that waited on the listener serves the "
         "first connection",
         "prefork's workers all wait on the listener; with one worker, a lock is not seen and "
         "the pool is prefork"},
    Rule{"prefork",
         [](const Facts& f) {
           return process_pool(f) && one_shared_listener(f) && f.listener_waiter_processes > 0 &&
                  f.lock_waiters == 0 && f.first_served_by == FirstServer::listener_waiter;
         },
         [](const Facts& f) {
           // The workers: every process but a parent that does not wait on the listener.
           const int pool = f.processes[0] - (f.root_waits_on_listener ? 0 : 1);
           if (f.listener_waiter_processes == pool)
             return fmt::format("a pool of {} processes, each sleeps in {}", pool,
                                listener_wait(f));
           return fmt::format("a pool of {} processes, {} of them asleep in {}", pool,
                              f.listener_waiter_processes, listener_wait(f));
         },
         "a pool of processes sharing one listener, every worker waiting on it (accept, or "
         "select, poll or epoll over it), none on a lock; the first connection served by one "
         "that waited on it",
         "how the workers wait (--wait accept, select, epoll, epoll-exclusive) is in the words, "
         "not in the model"},
    Rule{"prethreaded-main",
         [](const Facts& f) {
           return thread_pool(f) && f.listener_waiters > 0 &&
                  f.first_served_by == FirstServer::lock_waiter;
         },
         [](const Facts& f) {
           return fmt::format(
               "one thread sleeps in {} and hands each connection to a pool of {} "
               "threads asleep in {}()",
               listener_wait(f), f.lock_waiters, f.lock_call);
         },
         "one process with a pool of threads; a thread waits on the listener while the others "
         "sleep on a lock (a condition variable: futex); the first connection is served by one "
         "of those",
         "in prethreaded the thread that waited on the listener serves the connection itself"},
    Rule{"prethreaded",
         [](const Facts& f) {
           return thread_pool(f) && f.listener_waiters > 0 &&
                  f.first_served_by == FirstServer::listener_waiter;
         },
         [](const Facts& f) {
           if (f.lock_waiters == 0)
             return fmt::format("a pool of {} threads in {}", f.listener_waiters, listener_wait(f));
           return fmt::format(
               "a pool of {} threads taking turns at the listener under {}: {} in "
               "{}, {} in {}()",
               f.listener_waiters + f.lock_waiters, lock_words(f.lock_call), f.listener_waiters,
               listener_wait(f), f.lock_waiters, f.lock_call);
         },
         "one process with a pool of threads; the first connection is served by a thread that "
         "waited on the listener",
         "in prethreaded-main a thread that waited on a lock serves it, handed over"},
};

std::string unknown_words(const Facts& f) {
  if (f.processes.empty() || f.processes.front() == 0)
    return "nothing was seen of the server";
  return fmt::format(
      "no design of the table fits: at idle {} process(es), {} thread(s); with "
      "{} connections {} accepted, {} queued, {} on new processes, {} on new "
      "threads, {} multiplexed; first served by {}",
      f.processes[0], f.threads[0], kConnections, f.accepted, f.queued, f.on_new_process,
      f.on_new_thread, f.in_multiplexer, to_string(f.first_served_by));
}

}  // namespace

Verdict classify(const Observation& observation) {
  Verdict verdict{.facts = facts_of(observation)};
  const Facts& f = verdict.facts;
  verdict.model = "unknown";
  verdict.words = unknown_words(f);
  for (const Rule& rule : kRules) {
    if (rule.fits(f)) {
      verdict.model = rule.model;
      verdict.words = rule.says(f);
      break;
    }
  }
  verdict.summary = verdict.model + ": " + verdict.words;
  for (const auto& shot : observation.steps) verdict.evidence.push_back(describe(shot));
  verdict.evidence.push_back(
      fmt::format("the first connection was served by {}", to_string(f.first_served_by)));
  return verdict;
}

std::vector<RuleDoc> rule_docs() {
  std::vector<RuleDoc> docs;
  docs.reserve(kRules.size());
  for (const Rule& rule : kRules) docs.push_back({rule.model, rule.needs, rule.tells_apart});
  return docs;
}

}  // namespace csd::observe
