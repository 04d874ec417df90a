// life/*: what the server's processes do over many connections and when
// told to stop. Children are reaped, descriptors are not leaked, SIGTERM
// ends the whole tree promptly, and no worker outlives the main process.

#include <csignal>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <algorithm>

#include "check.hpp"
#include "procfs.hpp"
#include "server_test.hpp"
#include "wait.hpp"

namespace csd::suite {
namespace {

class Life : public ServerTest {
 public:
  using ServerTest::ServerTest;
};

// Every check of the family: whatever the protocol and the design.
constexpr harness::AppliesTo kEveryImplementation{};

std::vector<pid_t> zombies_in(const std::vector<pid_t>& tree) {
  std::vector<pid_t> zombies;
  for (const pid_t pid : tree) {
    if (const auto info = harness::read_proc(pid); info && info->state == 'Z')
      zombies.push_back(pid);
  }
  return zombies;
}

// The first few, described; the rest counted (the evidence file lists them all).
std::string pids(const std::vector<pid_t>& list) {
  constexpr std::size_t kShown = 5;
  std::string out;
  for (std::size_t i = 0; i < std::min(list.size(), kShown); ++i)
    out += (out.empty() ? "" : ", ") + harness::describe(list[i]);
  if (list.size() > kShown)
    out += fmt::format(" and {} more", list.size() - kShown);
  return out;
}

CSD_CHECK(
    Life, NoZombies, kEveryImplementation,
    {.id = "life/no-zombies",
     .level = Level::required,
     .statement = "After 200 connections, no child of the server stays a zombie for more than 3 s.",
     .why_level = "Reaping children is part of the fork design (UNP 5.9, 5.10), not an extra.",
     .proven_by = {"no-reap"}}) {
  ASSERT_TRUE(EveryConnectionSucceeded(load(4, 50, 100)));
  // A child that exits as its client leaves is a zombie for an instant, until
  // the parent's SIGCHLD handling reaps it; a reaping server gets there quickly.
  std::vector<pid_t> zombies;
  const bool reaped =
      harness::wait_until([&] { return (zombies = zombies_in(server().tree())).empty(); }, 3000ms);
  RecordProperty("zombies", static_cast<int>(zombies.size()));
  EXPECT_TRUE(reaped) << zombies.size()
                      << " zombie(s) 3 s after 200 connections ended: " << pids(zombies);
}

CSD_CHECK(
    Life, NoDescriptorLeak, kEveryImplementation,
    {.id = "life/no-descriptor-leak",
     .level = Level::required,
     .statement =
         "The main process holds no more descriptors after 500 connections (as many as fit "
         "in half the budget, at least 50) than before (4 of slack).",
     .why_level =
         "A descriptor per connection leaked is a server that stops at its limit: a bug in any "
         "design.",
     .proven_by = {"fd-leak"},
     .budget = 30s}) {
  ASSERT_TRUE(EveryConnectionSucceeded(load(2, 10, 100)));  // warm-up: lazy opens happen here
  const pid_t main_pid = server().pid();
  const int before = harness::open_fd_count(main_pid);
  ASSERT_GE(before, 0) << "cannot read /proc/" << main_pid << "/fd";

  ASSERT_TRUE(EveryConnectionSucceeded(load(5, 100, 100)));
  constexpr int kSlack =
      4;  // room for a descriptor opened lazily; a leak of one per connection is ~500
  int after = 0;
  const bool settled = harness::wait_until(
      [&] { return (after = harness::open_fd_count(main_pid)) <= before + kSlack; }, 3000ms);
  RecordProperty("fds_before", before);
  RecordProperty("fds_after", after);
  EXPECT_TRUE(settled) << "the main process " << harness::describe(main_pid) << " held " << before
                       << " descriptors before 500 connections and " << after << " after";
}

CSD_CHECK(
    Life, SigtermStopsTree, kEveryImplementation,
    {.id = "life/sigterm-stops-tree",
     .level = Level::required,
     .statement = "SIGTERM to the main process ends it and every process it made within 1 s.",
     .why_level =
         "UNP's pool servers kill their children on SIGINT (30.6, sig_int); a tree that outlives "
         "its parent is an orphan leak.",
     .proven_by = {"orphans", "ignores-sigterm"}}) {
  // Exercise the design first, so that worker children exist and have served.
  ASSERT_TRUE(EveryConnectionSucceeded(load(4, 10, 100)));
  const auto tree = server().tree();
  const std::string main_process = harness::describe(server().pid());
  const auto report = stop_server(SIGTERM, 1000ms);
  RecordProperty("stop_ms", static_cast<int>(report.took.count()));
  std::string killed;
  for (const auto& k : report.killed) killed += " " + k;
  EXPECT_TRUE(report.exited_in_time)
      << "after SIGTERM to " << main_process << ", " << report.killed.size() << " of "
      << tree.size()
      << " processes were still running after 1 s and had to be SIGKILLed:" << killed;
}

// ---- life/no-worker-outlives-parent -----------------------------------------------

constexpr harness::AppliesTo kWorkerProcesses{
    .workers = {harness::Workers::process_per_client, harness::Workers::process_pool}};
// How long after the main process is gone a worker may still be seen: the
// kernel's parent-death signal (PR_SET_PDEATHSIG) or the parent's own
// SIGTERM, already sent, takes effect in that time; a worker that lives on
// after its parent, even for a moment it chose, is past it.
constexpr auto kAfterParentSlack = 100ms;

CSD_CHECK(
    Life, NoWorkerOutlivesParent, kWorkerProcesses,
    {.id = "life/no-worker-outlives-parent",
     .level = Level::required,
     .statement =
         "After SIGTERM, no worker process seen before the signal is alive 100 ms after the main "
         "process has exited (the main process exits within 1 s).",
     .why_level =
         "When the main process is gone, a supervisor (systemd, a shell's wait) takes the "
         "server for stopped and may start another; a worker that outlives its parent, even "
         "briefly and even re-parented to a subreaper, still holds the port and takes its "
         "clients (UNP 30.6's sig_int kills its children before it exits).",
     .proven_by = {"outliving-workers"}}) {
  ASSERT_TRUE(EveryConnectionSucceeded(load(4, 10, 100)));
  const pid_t main_pid = server().pid();
  std::vector<pid_t> workers;
  for (const pid_t pid : server().tree()) {
    if (const auto info = harness::read_proc(pid); pid != main_pid && info && info->state != 'Z')
      workers.push_back(pid);
  }
  const auto main_gone = [&] {
    const auto info = harness::read_proc(main_pid);
    return !info || info->state == 'Z';
  };
  // The main process is csd-guard's unreaped child: its pid cannot be reused yet.
  ASSERT_EQ(::kill(main_pid, SIGTERM), 0) << "kill(" << main_pid << ", SIGTERM) failed";
  const bool exited = harness::wait_until(main_gone, 1000ms);
  std::vector<pid_t> outliving;
  if (exited) {
    // A worker seen before the signal, still alive (not a zombie) once the
    // slack has passed; its pid cannot have been reused by then: csd-guard
    // reaps orphans, but pids do not wrap in 100 ms.
    harness::wait_until(
        [&] {
          outliving.clear();
          for (const pid_t pid : workers) {
            if (const auto info = harness::read_proc(pid); info && info->state != 'Z')
              outliving.push_back(pid);
          }
          return outliving.empty();
        },
        kAfterParentSlack);
  }
  const std::string survivors = pids(outliving);
  stop_server(SIGTERM, 1000ms);  // whatever is left: the guard's subreaping finds it
  RecordProperty("workers_before", static_cast<int>(workers.size()));
  RecordProperty("outliving_workers", static_cast<int>(outliving.size()));
  ASSERT_TRUE(exited) << "expected the main process " << main_pid
                      << " to exit within 1 s of SIGTERM, it was still running";
  EXPECT_TRUE(outliving.empty()) << "expected none of the " << workers.size()
                                 << " workers alive 100 ms after the main process exited, "
                                 << outliving.size() << " were: " << survivors;
}

}  // namespace
}  // namespace csd::suite
