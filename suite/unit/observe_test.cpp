// The classifier of suite/observe on synthetic snapshots: each design's shape
// as its reference server shows it, the look-alikes told apart, and shapes
// that fit no design left unknown with their evidence.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include "calls.hpp"
#include "classify.hpp"

namespace csd::observe {
namespace {

using ::testing::HasSubstr;

Waiting listener(int others = 0) { return {.listeners = {0}, .other = others}; }
Waiting connection(int c) { return {.connections = {c}}; }
Waiting unix_socket() { return {.other_sockets = 1}; }
Waiting pipe() { return {.other = 1}; }
Waiting listener_and_connections(int n) {
  Waiting on{.listeners = {0}};
  for (int c = 0; c < n; ++c) on.connections.push_back(c);
  return on;
}

TaskView task(pid_t tid, long call, Waiting on = {}) {
  return {.tid = tid, .call = call, .on = std::move(on)};
}
ProcessView process(pid_t pid, std::vector<TaskView> tasks, pid_t ppid = 1) {
  return {.pid = pid, .ppid = ppid, .tasks = std::move(tasks), .listeners = 1};
}
ProcessView single(pid_t pid, long call, Waiting on, pid_t ppid = 100) {
  return process(pid, {task(pid, call, std::move(on))}, ppid);
}

Snapshot shot(std::vector<ProcessView> processes, std::vector<std::vector<pid_t>> holders = {},
              uint32_t queued = 0) {
  Snapshot s{.processes = std::move(processes), .holders = std::move(holders), .queued = queued};
  int holding = 0;
  for (const auto& p : s.processes) holding += p.listeners;
  s.listener_holders = {holding};
  return s;
}

Observation steps(Snapshot idle, Snapshot one, Snapshot four, Snapshot released) {
  Observation o{.steps = {std::move(idle), std::move(one), std::move(four), std::move(released)}};
  for (std::size_t k = 0; k < o.steps.size(); ++k) o.steps[k].step = kSteps[k];
  return o;
}

// A pool of 4 processes 101..104 under a parent 100 asleep in poll() on
// `parent_on`, whose idle workers sleep in `idle_call(worker)` on
// `idle_on(worker)`; connection k served by 101 + k.
Observation process_pool(long (*idle_call)(int), Waiting (*idle_on)(int),
                         Waiting parent_on = pipe()) {
  const auto workers = [&](int busy) {
    std::vector<ProcessView> ps{single(100, SYS_poll, parent_on, 1)};
    for (int w = 0; w < 4; ++w) {
      ps.push_back(w < busy ? single(101 + w, SYS_read, connection(w))
                            : single(101 + w, idle_call(w), idle_on(w)));
    }
    return ps;
  };
  const auto held = [](int n) {
    std::vector<std::vector<pid_t>> h(static_cast<std::size_t>(n));
    for (int c = 0; c < n; ++c) h[static_cast<std::size_t>(c)] = {101 + c};
    return h;
  };
  return steps(shot(workers(0)), shot(workers(1), held(1)), shot(workers(4), held(4)),
               shot(workers(0)));
}

long accepts(int) { return SYS_accept; }
Waiting on_listener(int) { return listener(); }

TEST(Classify, PreforkIsAPoolOfProcessesEachInAccept) {
  const Verdict v = classify(process_pool(accepts, on_listener));
  EXPECT_EQ(v.model, "prefork");
  EXPECT_EQ(v.summary, "prefork: a pool of 4 processes, each sleeps in accept()");
  ASSERT_EQ(v.evidence.size(), 5U);
  EXPECT_EQ(v.evidence[0],
            "idle: 5 processes, 5 threads; 4 in accept() on the listener, 1 in poll() on a pipe "
            "or file; 1 listening socket on the port");
  EXPECT_THAT(v.evidence[2], HasSubstr("4 accepted, held by 4 processes"));
  EXPECT_EQ(v.evidence[4], "the first connection was served by a task that waited on the listener");
}

TEST(Classify, PreforkWaitingInSelectIsStillPrefork) {
  const Verdict v = classify(process_pool([](int) -> long { return SYS_select; }, on_listener));
  EXPECT_EQ(v.model, "prefork");
  EXPECT_EQ(v.summary, "prefork: a pool of 4 processes, each sleeps in select() on the listener");
}

// UNP 30.7: one worker in accept() holds the lock, the others wait for it.
TEST(Classify, PreforkLockIsOneInAcceptTheOthersOnTheLock) {
  const auto call = [](int w) -> long { return w == 0 ? SYS_accept : SYS_fcntl; };
  const auto on = [](int w) { return w == 0 ? listener() : pipe(); };
  const Verdict v = classify(process_pool(call, on));
  EXPECT_EQ(v.model, "prefork-lock");
  EXPECT_EQ(v.summary,
            "prefork-lock: a pool of 4 processes taking turns at the listener under an fcntl "
            "record lock: 1 sleeps in accept(), 3 in fcntl()");
  const auto mutex = [](int w) -> long { return w == 0 ? SYS_accept : SYS_futex; };
  const auto on_mutex = [](int w) { return w == 0 ? listener() : Waiting{}; };
  EXPECT_THAT(classify(process_pool(mutex, on_mutex)).summary, HasSubstr("under a mutex"));
}

// What cannot be seen: with one worker nobody ever waits for the lock.
TEST(Classify, ALockWithOneWorkerIsNotSeen) {
  Observation o = process_pool(accepts, on_listener);
  for (auto& s : o.steps) s.processes.resize(2);
  for (auto& s : o.steps) s.holders.resize(std::min<std::size_t>(s.holders.size(), 1));
  EXPECT_EQ(classify(o).model, "prefork");
}

TEST(Classify, PreforkFdpassIsAParentOnTheListenerAndChildrenInRecvmsg) {
  Waiting parent = listener(1);
  parent.other_sockets = 4;
  const auto call = [](int) -> long { return SYS_recvmsg; };
  const auto on = [](int) { return unix_socket(); };
  const Verdict v = classify(process_pool(call, on, parent));
  EXPECT_EQ(v.model, "prefork-fdpass");
  EXPECT_EQ(v.summary,
            "prefork-fdpass: a parent in poll() and 4 children in recvmsg(): "
            "descriptor passing");
}

// The parent keeps every listening socket; each child waits on one of its own.
TEST(Classify, ReuseportIsAListenerPerProcess) {
  Observation o = process_pool(accepts, [](int w) { return Waiting{.listeners = {w}}; });
  for (auto& s : o.steps) {
    s.processes[0].listeners = 4;
    s.listener_holders = {2, 2, 2, 2};
  }
  const Verdict v = classify(o);
  EXPECT_EQ(v.model, "reuseport");
  EXPECT_EQ(v.summary,
            "reuseport: a pool of 4 processes, each with a listening socket of its "
            "own (SO_REUSEPORT), each sleeps in accept()");
}

// The parent in poll() on the listener; child k serves connection k and is
// gone once it closes.
Observation fork_per_connection(bool children_stay = false) {
  const auto tree = [](int children) {
    std::vector<ProcessView> ps{single(100, SYS_poll, listener(1), 1)};
    for (int c = 0; c < children; ++c) ps.push_back(single(200 + c, SYS_recvfrom, connection(c)));
    return ps;
  };
  const auto held = [](int n) {
    std::vector<std::vector<pid_t>> h(static_cast<std::size_t>(n));
    for (int c = 0; c < n; ++c) h[static_cast<std::size_t>(c)] = {200 + c};
    return h;
  };
  Snapshot released = shot(tree(children_stay ? 4 : 0));
  for (auto& p : released.processes) {
    if (p.pid != 100)
      p.tasks[0] = task(p.pid, SYS_nanosleep);
  }
  return steps(shot(tree(0)), shot(tree(1), held(1)), shot(tree(4), held(4)), released);
}

TEST(Classify, ForkIsANewProcessPerConnectionGoneAfterIt) {
  const Verdict v = classify(fork_per_connection());
  EXPECT_EQ(v.model, "fork");
  EXPECT_EQ(v.summary,
            "fork: a new process per connection, gone after it; the parent sleeps in "
            "poll() on the listener");
}

TEST(Classify, ChildrenThatOutliveTheirConnectionAreNoDesign) {
  const Verdict v = classify(fork_per_connection(true));
  EXPECT_EQ(v.model, "unknown");
  EXPECT_THAT(v.summary, HasSubstr("4 on new processes"));
  EXPECT_EQ(v.evidence.size(), 5U);  // the evidence, whatever the verdict
}

// One process: its main thread 100 and `idle` as the pool, `serving(k)` the
// tasks once k connections are held.
Observation one_process(std::vector<TaskView> (*tasks)(int), std::vector<TaskView> released) {
  const auto held = [](int n) { return std::vector<std::vector<pid_t>>(n, {100}); };
  return steps(shot({process(100, tasks(0))}), shot({process(100, tasks(1))}, held(1)),
               shot({process(100, tasks(4))}, held(4)), shot({process(100, std::move(released))}));
}

TEST(Classify, ThreadIsANewThreadPerConnection) {
  const auto tasks = [](int n) {
    std::vector<TaskView> t{task(100, SYS_poll, listener(1))};
    for (int c = 0; c < n; ++c) t.push_back(task(200 + c, SYS_read, connection(c)));
    return t;
  };
  const Verdict v = classify(one_process(tasks, tasks(0)));
  EXPECT_EQ(v.model, "thread");
  EXPECT_EQ(v.summary,
            "thread: a new thread per connection, gone after it; the main thread "
            "sleeps in poll() on the listener");
  // Threads that stay after their connection: a pool that grows, no design of the table.
  std::vector<TaskView> kept = tasks(4);
  for (auto& t : kept) t.call = SYS_futex;
  EXPECT_EQ(classify(one_process(tasks, kept)).model, "unknown");
}

// UNP 30.11: one thread polls the listener under the mutex, the others wait
// for the mutex; the main thread waits for signals.
std::vector<TaskView> prethreaded(int busy) {
  std::vector<TaskView> t{task(100, SYS_poll, pipe())};
  for (int w = 0; w < 4; ++w) {
    if (w < busy)
      t.push_back(task(101 + w, SYS_read, connection(w)));
    else
      t.push_back(w == busy ? task(101 + w, SYS_poll, listener(1)) : task(101 + w, SYS_futex));
  }
  return t;
}

TEST(Classify, PrethreadedIsAPoolOfThreadsThatAcceptForThemselves) {
  const Verdict v = classify(one_process(prethreaded, prethreaded(0)));
  EXPECT_EQ(v.model, "prethreaded");
  EXPECT_EQ(v.summary,
            "prethreaded: a pool of 4 threads taking turns at the listener under a "
            "mutex: 1 in poll() on the listener, 3 in futex()");
}

// UNP 30.12: the main thread accepts and hands over to threads waiting on a
// condition variable.
std::vector<TaskView> prethreaded_main(int busy) {
  std::vector<TaskView> t{task(100, SYS_poll, listener(2))};
  for (int w = 0; w < 4; ++w)
    t.push_back(w < busy ? task(101 + w, SYS_read, connection(w)) : task(101 + w, SYS_futex));
  return t;
}

TEST(Classify, PrethreadedMainHandsEachConnectionToAWaitingThread) {
  const Verdict v = classify(one_process(prethreaded_main, prethreaded_main(0)));
  EXPECT_EQ(v.model, "prethreaded-main");
  EXPECT_EQ(v.summary,
            "prethreaded-main: one thread sleeps in poll() on the listener and hands "
            "each connection to a pool of 4 threads asleep in futex()");
  EXPECT_EQ(v.evidence[4], "the first connection was served by a task that waited on a lock");
}

Observation event_loop(long call) {
  const auto loop = [call](int n) {
    return std::vector<ProcessView>{single(100, call, listener_and_connections(n), 1)};
  };
  const auto held = [](int n) { return std::vector<std::vector<pid_t>>(n, {100}); };
  return steps(shot(loop(0)), shot(loop(1), held(1)), shot(loop(4), held(4)), shot(loop(0)));
}

TEST(Classify, EventLoopsAreNamedByTheirCall) {
  EXPECT_EQ(classify(event_loop(SYS_select)).summary,
            "select: one process, one thread, sleeps in select() on the listener and every "
            "connection");
  EXPECT_EQ(classify(event_loop(SYS_pselect6)).model, "select");
  EXPECT_EQ(classify(event_loop(SYS_poll)).model, "poll");
  EXPECT_EQ(classify(event_loop(SYS_ppoll)).model, "poll");
  EXPECT_EQ(classify(event_loop(SYS_epoll_wait)).model, "epoll");
  EXPECT_EQ(classify(event_loop(SYS_epoll_pwait)).model, "epoll");
  // A loop asleep in nanosleep() between rounds is no design the table knows.
  EXPECT_EQ(classify(event_loop(SYS_nanosleep)).model, "unknown");
}

TEST(Classify, IterativeLeavesTheOthersInTheAcceptQueue) {
  const auto it = [](int n) {
    return std::vector<ProcessView>{n == 0 ? single(100, SYS_accept, listener(), 1)
                                           : single(100, SYS_read, connection(0), 1)};
  };
  Observation o =
      steps(shot(it(0)), shot(it(1), {{100}}), shot(it(1), {{100}, {}, {}, {}}, 3), shot(it(0)));
  const Verdict v = classify(o);
  EXPECT_EQ(v.model, "iterative");
  EXPECT_EQ(v.summary,
            "iterative: one process, one thread, one connection at a time: it reads "
            "one while 3 wait in the accept queue");
  EXPECT_THAT(v.evidence[2], HasSubstr("1 accepted, held by 1 process; 3 in the accept queue"));
}

TEST(Classify, NothingSeenIsUnknown) {
  const Verdict v = classify(Observation{});
  EXPECT_EQ(v.model, "unknown");
  EXPECT_EQ(v.summary, "unknown: nothing was seen of the server");
  EXPECT_FALSE(v.facts.settled);
}

TEST(Calls, KindsNamesAndFamilies) {
  EXPECT_EQ(kind_of_call(SYS_accept4), CallKind::accept);
  EXPECT_EQ(kind_of_call(SYS_epoll_pwait), CallKind::multiplex);
  EXPECT_EQ(kind_of_call(SYS_recvmsg), CallKind::read);
  EXPECT_EQ(kind_of_call(SYS_futex), CallKind::lock);
  EXPECT_EQ(kind_of_call(SYS_wait4), CallKind::other);
  EXPECT_EQ(call_name(SYS_pselect6), "pselect6");
  EXPECT_EQ(call_name(100000), "syscall 100000");
  EXPECT_EQ(multiplexer_family(SYS_ppoll), "poll");
  EXPECT_EQ(multiplexer_family(SYS_accept), "");
}

TEST(Classify, EveryRuleIsDocumented) {
  const auto docs = rule_docs();
  ASSERT_EQ(docs.size(), 12U);  // every model of the manifest but `other`
  for (const auto& d : docs) {
    EXPECT_FALSE(d.needs.empty()) << d.model;
    EXPECT_FALSE(d.tells_apart.empty()) << d.model;
  }
}

// docs/IDENTIFY.md shows the table as the code has it: a row per rule, in order.
TEST(Classify, TheDocsShowTheRuleTable) {
  std::ifstream in(CSD_IDENTIFY_DOC);
  const std::string doc{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::size_t after = 0;
  for (const auto& d : rule_docs()) {
    const std::string row = fmt::format("| `{}` | {} | {} |", d.model, d.needs, d.tells_apart);
    const std::size_t at = doc.find(row);
    EXPECT_NE(at, std::string::npos) << CSD_IDENTIFY_DOC << " lacks the row\n" << row;
    EXPECT_TRUE(at == std::string::npos || at >= after) << d.model << "'s row is out of order";
    after = at == std::string::npos ? after : at;
  }
}

}  // namespace
}  // namespace csd::observe
