// shape/*: the processes and threads a design keeps, seen in /proc.
// Per-client designs return to their main process (fork) or main thread
// (thread) once clients leave; pools keep exactly their workers, and a
// process pool replaces a worker that is killed (every pool design here says
// it does, in impl/README.md). And the design a manifest declares is the one
// the server shows when watched (suite/observe, csd-report --identify).

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <string>

#include "check.hpp"
#include "classify.hpp"
#include "observe.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

class Shape : public ServerTest {
 public:
  using ServerTest::ServerTest;
};

// The shape is the design's, seen on a quick loopback: not run under --network.
const Runs kOnAQuickLoopback{.under_network_conditions = false};
// Where the checks apply, whatever the protocol: designs that start a worker
// per client; pools (whose size the manifest gives); pools of processes, the
// only workers that can be killed one at a time.
constexpr harness::AppliesTo kWorkerPerClientDesigns{.workers = harness::kWorkerPerClient};
constexpr harness::AppliesTo kPoolsOfKnownSize{.workers = harness::kPools, .min_workers = 1};
constexpr harness::AppliesTo kProcessPoolsOfKnownSize{.workers = harness::kProcessPools,
                                                      .min_workers = 1};
constexpr harness::AppliesTo kDeclaredModels{.declared_model = true};

CSD_CHECK(
    Shape, PerClientWorkersExit, kWorkerPerClientDesigns,
    {.id = "shape/per-client-workers-exit",
     .level = Level::required,
     .statement = "A process or thread per client is gone within 3 s of its client leaving.",
     .why_level =
         "A worker per client that stays is a leak that ends the server, in the design itself.",
     .proven_by = {"no-reap", "thread-leak"},
     .runs = kOnAQuickLoopback}) {
  ASSERT_TRUE(EveryConnectionSucceeded(load(4, 25, 100)));
  if (traits().workers == harness::Workers::process_per_client) {
    std::size_t size = 0;
    const bool alone =
        harness::wait_until([&] { return (size = server().tree().size()) == 1; }, 3000ms);
    RecordProperty("processes_after", static_cast<int>(size));
    EXPECT_TRUE(alone)
        << "3 s after 100 connections ended, the tree still has " << size
        << " processes (zombies included); a fork-per-client server returns to its parent alone";
  } else {
    std::size_t threads = 0;
    const bool alone = harness::wait_until(
        [&] { return within_runtime_allowance(threads = threads_of_main(), 1); }, 3000ms);
    RecordProperty("threads_after", static_cast<int>(threads));
    EXPECT_TRUE(alone) << "3 s after 100 connections ended, " << harness::describe(server().pid())
                       << " has " << threads
                       << " threads; a thread-per-client server returns to its main thread";
  }
}

CSD_CHECK(
    Shape, PoolSizeExact, kPoolsOfKnownSize,
    {.id = "shape/pool-size-exact",
     .level = Level::required,
     .statement =
         "A pool has exactly the workers its command line asked for, before and after load.",
     .why_level = "The pool's size is the design's parameter (UNP 30.6-30.12); more or fewer is a "
                  "different server.",
     .proven_by = {"extra-worker"},
     .runs = kOnAQuickLoopback}) {
  ASSERT_TRUE(EveryConnectionSucceeded(load(8, 25, 100)));
  EXPECT_TRUE(pool_has_exactly_its_workers_within(3000ms)) << "after 200 connections";
}

CSD_CHECK(
    Shape, PoolReplacesKilledWorker, kProcessPoolsOfKnownSize,
    {.id = "shape/pool-replaces-killed-worker",
     .level = Level::recommended,
     .statement =
         "When a worker of a process pool is killed, the pool is back to full strength within 5 s.",
     .why_level = "Beyond the textbook: UNP's preforked servers replace no dead child, and a "
                  "textbook pool must "
                  "stay conformant.",
     .proven_by = {"no-respawn"},
     .runs = kOnAQuickLoopback}) {
  const int workers = server().workers();
  const auto expected = static_cast<std::size_t>(workers) + 1;
  ASSERT_TRUE(pool_is_full_within(5000ms));

  const pid_t victim = live_tree().back();
  const std::string victim_name = harness::describe(victim);
  ASSERT_EQ(::kill(victim, SIGKILL), 0) << "kill " << victim;
  std::vector<pid_t> now;
  const bool replaced = harness::wait_until(
      [&] {
        now = live_tree();
        return now.size() == expected && std::find(now.begin(), now.end(), victim) == now.end();
      },
      3000ms);
  EXPECT_TRUE(replaced) << "3 s after SIGKILL of worker " << victim_name << " the pool has "
                        << now.size() << " live processes; expected a replacement (parent + "
                        << workers << " workers)";
  EXPECT_TRUE(EveryConnectionSucceeded(load(8, 10, 100)))
      << "after a worker was killed and replaced";
}

CSD_CHECK(Shape, DeclaredModel, kDeclaredModels,
          {.id = "shape/declared-model",
           .level = Level::required,
           .statement = "Watched idle, with one connection, with 4 at once and once they are gone, "
                        "the server shows the design its manifest declares; \"auto\": the one "
                        "it showed when the run began (docs/IDENTIFY.md).",
           .why_level = "The model decides which checks apply: a server that declares prefork but "
                        "forks per client is held to a pool's checks and spared a fork's.",
           .proven_by = {"declares-prefork", "auto-changes-design"},
           .runs = kOnAQuickLoopback}) {
  // "auto": the model csd-suite (or csd-report) saw before it registered the
  // checks, which a design that changes from one start to the next betrays.
  const bool automatic = manifest().model_auto;
  const std::string declared =
      automatic ? fmt::format("declared auto, observed {} at the start", manifest().observed_model)
                : "declared " + manifest().model;
  const std::string expected = automatic ? manifest().observed_model : manifest().model;
  RecordProperty("declared_model", manifest().declared_model());
  observe::Verdict seen;
  try {
    seen = observe::classify(observe::observe_running(server()));
  } catch (const std::exception& e) {  // a connection that never completed
    FAIL() << declared << ", not observed: " << e.what();
  }
  RecordProperty("observed_model", seen.model);  // report.json: the result's figures
  RecordProperty("observed", seen.summary);
  RecordProperty("observed_evidence", fmt::format("{}", fmt::join(seen.evidence, "\n")));
  std::string evidence;
  for (const auto& line : seen.evidence) evidence += "\n  " + line;
  EXPECT_EQ(seen.model, expected) << declared << (automatic ? ", now " : ", observed ")
                                  << seen.words << " (" << seen.model << ")"
                                  << (automatic ? ": the design must be stable" : "") << evidence;
}

}  // namespace
}  // namespace csd::suite
