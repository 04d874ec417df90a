// Resource shape: the processes and threads a design keeps, seen in /proc.
// Per-client designs return to their main process (fork) or main thread
// (thread) once clients leave; pools keep exactly their workers, and a
// process pool replaces a worker that is killed (every pool design here says
// it does, in impl/README.md).
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>

#include "implementations.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

class ResourceShape : public ServerTest {
 protected:
  // Live members of the tree (zombies are dead but not yet reaped: not live).
  std::vector<pid_t> live_tree() {
    std::vector<pid_t> live;
    for (const pid_t pid : server().tree()) {
      if (const auto info = harness::read_proc(pid); info && info->state != 'Z')
        live.push_back(pid);
    }
    return live;
  }

  std::size_t threads_of_main() { return harness::thread_ids(server().pid()).size(); }

  // Threads a runtime adds to the server beyond its design's own (a
  // sanitizer's background thread; a VM's helpers): $CSD_RUNTIME_THREADS,
  // which the tsan build sets to 1. Thread counts may exceed the design's by
  // at most this.
  static std::size_t runtime_threads() {
    const char* text = std::getenv("CSD_RUNTIME_THREADS");
    return text == nullptr ? 0 : static_cast<std::size_t>(std::strtoul(text, nullptr, 10));
  }
  static bool within_runtime_allowance(std::size_t threads, std::size_t design) {
    return threads >= design && threads <= design + runtime_threads();
  }
};

TEST_P(ResourceShape, PerClientWorkersGoAwayAfterClientsLeave) {
  if (!traits().worker_per_client())
    CSD_SKIP(fmt::format("model {} does not create a worker per client", model()));
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

TEST_P(ResourceShape, PoolKeepsExactlyItsWorkers) {
  if (!traits().process_pool() && !traits().thread_pool()) {
    CSD_SKIP(fmt::format("model {} is not a pool", model()));
  }
  const int workers = server().workers();
  if (workers <= 0)
    CSD_SKIP("the manifest gives no worker count");
  ASSERT_TRUE(EveryConnectionSucceeded(load(8, 25, 100)));
  if (traits().process_pool()) {
    const auto expected = static_cast<std::size_t>(workers) + 1;
    std::size_t size = 0;
    const bool exact =
        harness::wait_until([&] { return (size = live_tree().size()) == expected; }, 3000ms);
    RecordProperty("processes", static_cast<int>(size));
    EXPECT_TRUE(exact) << "a pool of " << workers << " worker processes has " << size
                       << " live processes, not " << expected << " (parent + workers)";
  } else {
    // The main thread and one per worker (the main thread accepts or waits for signals).
    const auto expected = static_cast<std::size_t>(workers) + 1;
    std::size_t threads = 0;
    const bool exact = harness::wait_until(
        [&] { return within_runtime_allowance(threads = threads_of_main(), expected); }, 3000ms);
    RecordProperty("threads", static_cast<int>(threads));
    EXPECT_TRUE(exact) << "a pool of " << workers << " threads has " << threads << " threads, not "
                       << expected << " (main + workers)";
  }
}

TEST_P(ResourceShape, ProcessPoolReplacesAKilledWorker) {
  if (traits().thread_pool())
    CSD_SKIP("a thread cannot be killed on its own: nothing to replace");
  if (!traits().process_pool())
    CSD_SKIP(fmt::format("model {} is not a pool of worker processes", model()));
  const int workers = server().workers();
  if (workers <= 0)
    CSD_SKIP("the manifest gives no worker count");
  const auto expected = static_cast<std::size_t>(workers) + 1;
  ASSERT_TRUE(harness::wait_until([&] { return live_tree().size() == expected; }, 5000ms))
      << "the pool never reached parent + " << workers << " workers";

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

CSD_INSTANTIATE_FAMILY(ResourceShape);

}  // namespace
}  // namespace csd::suite
