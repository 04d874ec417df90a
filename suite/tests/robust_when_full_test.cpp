// robust/* for more clients than the server has room for. Verify behavior
// for the sequences: 1,000 connections at once -> each served or refused,
// never hung (burst.hpp); 100 idle clients against 64 descriptors -> no busy
// loop meanwhile, and service once they leave (idle_clients.hpp).
#include <fmt/format.h>

#include <chrono>
#include <cstddef>

#include "burst.hpp"
#include "check.hpp"
#include "idle_clients.hpp"
#include "procfs.hpp"
#include "robust.hpp"
#include "wait.hpp"
#include "wire.hpp"

namespace csd::suite {
namespace {

constexpr harness::AppliesTo kEveryImplementation{};

// 1,000 connections opened at once, before any sends its request: more than
// any pool has workers, and far above a small backlog: 16 where the command
// takes {backlog} (every reference server does), else the server's own
// (socat's is 5). Each must end cleanly one way or the other (burst.hpp).
constexpr int kBurstConnections = 1000;
constexpr int kSmallBacklog = 16;
constexpr std::size_t kBurstRequestBytes = 100;

// Starts on a full pool: its descriptors before the burst are the whole pool's.
CSD_CHECK(
    Robust, BurstAboveBacklog, kEveryImplementation,
    {.id = "robust/burst-above-backlog",
     .level = Level::recommended,
     .statement =
         "Started with a listen() backlog of 16 (where its command takes {backlog}), the server "
         "meets 1,000 connections opened at once, then a 100-byte request on each: every one is "
         "served whole or refused cleanly (refused, reset or closed before any reply byte, or "
         "turned away by the kernel's full accept queue), or left to TCP's retransmission; none "
         "whose reply the server owes hangs (waits while the server answers no one for 10 s; a "
         "server still answering others when half the budget has passed is slow, not hung), and "
         "the server is alive and serving afterwards.",
     .why_level =
         "Beyond the textbook: UNP's servers meet no burst beyond their backlog. A server must "
         "turn away what it cannot take, never leave a client hanging, and survive accept()'s "
         "errors: UNP's own Accept wrapper exits on EMFILE (err_sys), which a burst provokes.",
     .proven_by = {"dies-on-emfile"},
     .runs = {.alone_because =
                  "Its 1,000 clients and the server's draining of a full accept queue load both "
                  "CPUs: beside another check, each would time the other's load."},
     .budget = 45s,
     .server = {.backlog = kSmallBacklog, .full_pool_first = true}}) {
  const int descriptors_before = tree_descriptors();
  const BurstOutcome burst =
      run_burst(target(), manifest().protocol, kBurstConnections, kBurstRequestBytes);
  if (burst.suite_ran_out)
    CSD_SKIP(*burst.suite_ran_out);
  record_figures(burst);
  if (burst.slow > 0) {
    RecordProperty("slow", fmt::format("{} of {} clients were still waiting on a server still "
                                       "serving others when its time ran out",
                                       burst.slow, kBurstConnections));
  }
  EXPECT_EQ(burst.unclean, 0) << "expected each of " << kBurstConnections
                              << " connections served whole or refused cleanly, " << burst.unclean
                              << " were neither: " << burst.fates;
  // Serving afterwards: once the server has let the burst's connections go
  // (its tree back to the descriptors it had), or 5 s on (10 s after a slow
  // burst: it has more of them to let go); a thread that is still finishing
  // one may make it refuse until then.
  int descriptors_after = 0;
  harness::wait_until(
      [&] { return (descriptors_after = tree_descriptors()) <= descriptors_before; },
      burst.slow > 0 ? 10000ms : 5000ms);
  RecordProperty("descriptors_before", descriptors_before);
  RecordProperty("descriptors_after", descriptors_after);
  const auto main_process = harness::read_proc(server().pid());
  ASSERT_TRUE(main_process && main_process->state != 'Z')
      << "expected the server alive after a burst of " << kBurstConnections
      << " connections, its main process is gone (the burst: " << burst.fates << ")";
  // After a slow burst the server is still working through the connections
  // it left in the accept queue, the next client behind them: it may wait
  // for the rest of the budget, and a server still taking connections from
  // its queue when the budget ends is slow, not broken.
  const auto queued = [&] { return queued_connections(server().port()); };
  const auto queued_before = queued();
  const auto next = burst.slow > 0 ? fetch_until_budget_ends(100) : fetch(100);
  if (burst.slow > 0 && next.outcome == client::Outcome::timeout && next.received == 0) {
    const auto queued_after = queued();
    if (queued_before && queued_after && *queued_after < *queued_before) {
      RecordProperty("slow", fmt::format("after the burst the server was still taking "
                                         "connections from its accept queue ({} then {}) when "
                                         "its time ran out",
                                         *queued_before, *queued_after));
      return;
    }
  }
  EXPECT_TRUE(GotExactReply(next, 100))
      << "after a burst of " << kBurstConnections << " connections the server must still serve"
      << (descriptors_after > descriptors_before
              ? fmt::format(" (its processes still held {} descriptors more than before the "
                            "burst: connections it waits on)",
                            descriptors_after - descriptors_before)
              : "");
}

// The server runs with 64 descriptors (RLIMIT_NOFILE, set by csd-guard) and
// meets 100 clients that connect and say nothing.
constexpr int kFewDescriptors = 64;
constexpr int kIdleClients = 100;
// How long the server's CPU time is watched while it is out of descriptors,
// the most it may use (idle_clients.hpp says why 10%), and the most of the
// time it may be runnable: a busy loop always is, also on a machine too busy
// to give it 10% of a CPU; a server that sheds is runnable for milliseconds.
constexpr auto kStallWindow = 1000ms;
constexpr int kMostCpuPercent = 10;
constexpr int kMostRunnablePercent = 50;

CSD_CHECK(
    Robust, DescriptorExhaustion, kEveryImplementation,
    {.id = "robust/descriptor-exhaustion",
     .level = Level::recommended,
     .statement =
         "Started with RLIMIT_NOFILE 64 and met by 100 idle clients, the server tree, once it "
         "has stopped accepting them, uses under 10% of one CPU over a 1 s stall, no thread of it "
         "runnable (on a CPU or waiting for one) for half of it, and once the clients leave a "
         "normal request is served within 10 s.",
     .why_level =
         "Beyond the textbook: accept() failing with EMFILE leaves the connection queued and "
         "the listener readable, so a loop that only retries spins for as long as the clients "
         "stay. The reference servers shed such connections with a spare descriptor "
         "(impl/lib/sockets.cpp), and report the queue drained once the spare finds it empty: "
         "on Linux accept() says EMFILE even then, which made csd-epoll-edge's accept-pending "
         "round retry at once, at 100% CPU, until this check found it. Designs that never run "
         "out (fork, a pool blocked in accept()) pass trivially.",
     .proven_by = {"spins-on-emfile"},
     .runs = {.alone_because = "It measures the server's CPU time while it is out of descriptors "
                               "(under 10% of one CPU), which busy CPUs would distort."},
     .budget = 30s,
     .server = {.nofile = kFewDescriptors}}) {
  IdleStall held = hold_with_idle_clients(server(), target(), kIdleClients, kStallWindow);
  record_figures(held);
  const auto& [used_ms, runnable_ms, window] = held.cpu;
  ASSERT_TRUE(held.settling.settled)
      << "expected the server to stop accepting the " << held.idle.connected.size()
      << " idle clients within 12 s (accepted all it can, or ran out of descriptors); the number "
      << "not accepted was still changing: " << held.settling.not_accepted;
  EXPECT_LT(used_ms * 100, kMostCpuPercent * window.count())
      << "expected the server tree to use under " << kMostCpuPercent << "% of one CPU while "
      << held.idle.connected.size() << " idle clients held it (RLIMIT_NOFILE " << kFewDescriptors
      << "), it used " << used_ms << " ms in " << window.count() << " ms; its main process held "
      << held.main_process_fds << " descriptors"
      << (held.idle.refused > 0 ? fmt::format(", {} connects failed", held.idle.refused) : "");
  EXPECT_LT(runnable_ms * 100, kMostRunnablePercent * window.count())
      << "expected no thread of the server runnable " << kMostRunnablePercent << "% of the time "
      << "while " << held.idle.connected.size() << " idle clients held it (RLIMIT_NOFILE "
      << kFewDescriptors << "), one of its threads was runnable " << runnable_ms << " ms in "
      << window.count() << " ms (the tree on a CPU " << used_ms << " ms): a busy loop";

  held.idle.connected.clear();  // the clients leave: their descriptors come back to the server
  EXPECT_TRUE(GotExactReply(fetch_within(100, 10000ms), 100))
      << "once the " << kIdleClients << " idle clients had left, a normal request must be "
      << "served within 10 s (RLIMIT_NOFILE " << kFewDescriptors << ")";
}

}  // namespace
}  // namespace csd::suite
