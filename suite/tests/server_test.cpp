#include "server_test.hpp"

#include <fmt/format.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "budget_watch.hpp"
#include "check.hpp"
#include "evidence.hpp"
#include "evidence_files.hpp"
#include "fd.hpp"
#include "limits.hpp"
#include "procfs.hpp"
#include "rerun.hpp"
#include "run.hpp"
#include "timeouts.hpp"
#include "wait.hpp"

namespace csd::suite {

namespace {

// Why this machine cannot serve on ::1 (IPv6 disabled, no ::1 on lo), or
// nullopt when it can: a socket bound to [::1]:0 is the proof.
std::optional<std::string> ipv6_loopback_missing() {
  const Fd probe(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe)
    return fmt::format("no IPv6 on this machine (socket(AF_INET6): {})", std::strerror(errno));
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  if (::bind(probe.get(), reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback) != 0)
    return fmt::format("no ::1 on this machine (bind [::1]:0: {})", std::strerror(errno));
  return std::nullopt;
}

}  // namespace

ServerTest::ServerTest(const harness::Manifest& implementation, ServerStart start)
    : manifest_(implementation), full_pool_first_(start.full_pool_first) {
  if (start.workers && harness::command_takes_workers(implementation))
    launch_.workers = start.workers;
  launch_.nofile = start.nofile;
  if (start.backlog)
    launch_.backlog = *start.backlog;
}

void ServerTest::SetUp() {
  RecordProperty("implementation", manifest().name);
  // For the line that reruns this test alone (harness/rerun.hpp).
  if (!manifest().path.empty())
    RecordProperty(harness::kManifestProperty, std::filesystem::absolute(manifest().path).string());
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (const CheckDeclaration* check = find_check(test->test_suite_name(), test->name())) {
    record_catalogue_entry(*check);
    if (!check->info.by_hand.empty()) {
      RecordProperty("by_hand", harness::by_hand_command(check->info.by_hand, manifest().host,
                                                         harness::own_bin_dir().string()));
    }
  }
  RecordProperty("model", manifest().model);
  if (manifest().ipv6_variant()) {
    if (auto missing = ipv6_loopback_missing())
      CSD_SKIP(std::move(*missing));
  }
  launch_.host = manifest().host;
  try {
    server_ = harness::ServerProcess::start(manifest(), launch_);
  } catch (const std::exception& e) {
    // A limit can stop a server before it is ready (memory eaten at start):
    // the failure leads with it, as TearDown's does.
    if (const auto stop = harness::find_limit_stop(e.what()))
      record_limit_stop(*stop);
    FAIL() << "could not start " << manifest().name << " (" << manifest().path.string() << "):\n"
           << e.what();
  }
  if (full_pool_first_) {
    ASSERT_TRUE(pool_is_full_within(5000ms));
  }
}

void ServerTest::TearDown() {
  // Every wait the body had left after its budget ran out was cut off there:
  // what failed then failed for want of time, which the summary says first.
  if (harness::budget::running() && harness::budget::spent())
    ADD_FAILURE() << budget_failure(
        budget_of(*::testing::UnitTest::GetInstance()->current_test_info()));
  if (!server_)
    return;
  // The processes as the failure left them, before stopping them changes that.
  const std::string tree =
      HasFailure() && !stopped_ ? harness::tree_snapshot(server_->tree()) : std::string();
  const harness::StopReport report = stopped_ ? *stopped_ : server_->stop(SIGTERM, 2000ms);
  if (const auto line = harness::find_sanitizer_report(report.output)) {
    ADD_FAILURE() << "the server's output holds a sanitizer report: " << *line;
  }
  // A server csd-guard stopped for a limit failed whatever the check saw
  // before; the report leads with which limit (harness/limits.hpp).
  if (const auto stop = harness::find_limit_stop(report.output))
    record_limit_stop(*stop);
  if (!HasFailure())
    return;
  std::string killed;
  for (const auto& k : report.killed) killed += " " + k;
  const std::string output =
      fmt::format("--- server {} on {}:{} (manifest {})\n", manifest().name, server_->host(),
                  server_->port(), manifest().path.string()) +
      fmt::format("--- stopped with signal {} in {} ms{}\n", report.signal_sent,
                  report.took.count(), killed.empty() ? "" : "; had to SIGKILL:" + killed) +
      "--- its output:\n" + report.output +
      (report.output.empty() || report.output.back() == '\n' ? "" : "\n") + "--- end of output\n";
  std::cout << output;
  keep_evidence("server_output", harness::evidence::kServerOutput, output);
  if (!tree.empty()) {
    std::cout << "--- its processes at the failure:\n" << tree;
    keep_evidence("process_tree", harness::evidence::kProcessTree, tree);
  }
}

void ServerTest::record_limit_stop(const std::string& stop) {
  RecordProperty(std::string(harness::kLimitProperty), stop);
  ADD_FAILURE() << harness::kStoppedByLimit << stop;
}

client::Target ServerTest::target() const { return {server_->host(), server_->port()}; }

harness::StopReport ServerTest::stop_server(int sig, std::chrono::milliseconds grace) {
  stopped_ = server_->stop(sig, grace);
  return *stopped_;
}

namespace {
client::Protocol client_protocol(harness::WireProtocol p) {
  return p == harness::WireProtocol::echo ? client::Protocol::echo : client::Protocol::size;
}
}  // namespace

client::FetchResult ServerTest::fetch_waiting(uint64_t bytes, bool bare,
                                              std::chrono::milliseconds scaled_timeout) {
  client::FetchOptions options;
  options.protocol = client_protocol(manifest().protocol);
  options.bytes = bytes;
  options.bare = bare;
  options.timeout = scaled_timeout;
  // A deadline too: under --network loss the FIN after an echo's half-close
  // can be lost and retransmitted more than once (200 ms RTO, doubling).
  options.echo_close_wait = harness::scaled_ms(options.echo_close_wait);
  return client::fetch(target(), options);
}

client::FetchResult ServerTest::fetch(uint64_t bytes, bool bare) {
  return fetch_waiting(bytes, bare, harness::scaled_ms(client::FetchOptions{}.timeout));
}

client::FetchResult ServerTest::fetch_within(uint64_t bytes, std::chrono::milliseconds timeout) {
  return fetch_waiting(bytes, false, harness::scaled_ms(timeout));
}

client::FetchResult ServerTest::fetch_until_budget_ends(uint64_t bytes) {
  // The second kept back is for judging and stopping the server, which the
  // budget covers too. Without a budget (ends_at is then far away), 30 s (scaled).
  const auto ends = std::min(harness::budget::ends_at(), harness::deadline_in(30s) + 1s);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      ends - std::chrono::steady_clock::now() - 1s);
  return fetch_waiting(bytes, false, std::max(left, std::chrono::milliseconds(1s)));
}

void ServerTest::expect_exact_exchanges(std::initializer_list<uint64_t> sizes,
                                        std::string_view what, bool bare) {
  for (const uint64_t bytes : sizes) {
    const auto reply = fetch(bytes, bare);
    EXPECT_TRUE(GotExactReply(reply, bytes)) << what << " " << bytes << " bytes";
    if (reply.outcome == client::Outcome::timeout)
      return;
  }
}

client::LoadReport ServerTest::load(int clients, int conns, uint64_t bytes) {
  client::LoadOptions options;
  options.target = target();
  options.clients = clients;
  options.conns = conns;
  options.fetch.protocol = client_protocol(manifest().protocol);
  options.fetch.bytes = bytes;
  options.fetch.timeout = harness::scaled_ms(options.fetch.timeout);
  options.fetch.echo_close_wait = harness::scaled_ms(options.fetch.echo_close_wait);
  // As many exchanges as fit in half the check's budget, the other half kept
  // for what the check does next: a slow but correct server is judged by
  // fewer of them, not failed for its speed (EveryConnectionSucceeded).
  options.stop_starting_at = harness::budget::share(kLoadShareOfBudget);
  options.stop_at_first_failure = true;
  auto report = client::run_load(options);
  if (report.connections < report.planned) {
    RecordProperty("slow", fmt::format("made {} of {} exchanges within its budget",
                                       report.connections, report.planned));
  }
  return report;
}

::testing::AssertionResult ServerTest::pool_is_full_within(std::chrono::milliseconds timeout) {
  const harness::ServerProcess& server = *server_;
  if (server.wait_for_full_pool(timeout))
    return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << "the pool never reached its " << server.workers() << " workers within "
          << timeout.count() << " ms: ";
  if (traits().process_pool()) {
    failure << "the tree has " << server.tree().size() << " processes, not parent + "
            << server.workers();
  } else {
    failure << harness::describe(server.pid()) << " has "
            << harness::thread_ids(server.pid()).size() << " threads, not main + "
            << server.workers();
  }
  return failure;
}

::testing::AssertionResult ServerTest::pool_has_exactly_its_workers_within(
    std::chrono::milliseconds timeout) {
  const int workers = server_->workers();
  const auto expected = static_cast<std::size_t>(workers) + 1;
  if (traits().process_pool()) {
    std::size_t live = 0;
    const bool exact =
        harness::wait_until([&] { return (live = live_tree().size()) == expected; }, timeout);
    RecordProperty("pool_processes", static_cast<int>(live));
    if (exact)
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "a pool of " << workers << " worker processes has " << live << " live processes, not "
           << expected << " (parent + workers)";
  }
  // The main thread and one per worker (the main thread accepts or waits for signals).
  std::size_t threads = 0;
  const bool exact = harness::wait_until(
      [&] { return within_runtime_allowance(threads = threads_of_main(), expected); }, timeout);
  RecordProperty("pool_threads", static_cast<int>(threads));
  if (exact)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "a pool of " << workers << " threads has " << threads
                                       << " threads, not " << expected << " (main + workers)";
}

std::vector<pid_t> ServerTest::live_tree() const {
  std::vector<pid_t> live;
  for (const pid_t pid : server_->tree()) {
    if (const auto info = harness::read_proc(pid); info && info->state != 'Z')
      live.push_back(pid);
  }
  return live;
}

std::string ServerTest::how_the_main_process_ended() {
  const pid_t main_pid = server_->pid();
  const harness::StopReport report = stop_server(SIGTERM, 1000ms);
  return fmt::format("main process {} gone ({})", main_pid,
                     report.exit_status ? harness::describe_wait_status(*report.exit_status)
                                        : "wait status unknown");
}

std::string ServerTest::pool_strength() const {
  const int workers = server_->workers();
  if (traits().process_pool()) {
    const auto live = live_tree().size();
    return fmt::format("{} of {} workers ({} live process{})", live == 0 ? 0 : live - 1, workers,
                       live, live == 1 ? "" : "es");
  }
  return fmt::format("{} threads for {} workers", threads_of_main(), workers);
}

int ServerTest::tree_descriptors() const {
  int open = 0;
  for (const pid_t pid : server_->tree()) open += std::max(harness::open_fd_count(pid), 0);
  return open;
}

std::size_t ServerTest::threads_of_main() const {
  return harness::thread_ids(server_->pid()).size();
}

std::size_t ServerTest::runtime_threads() {
  const char* text = std::getenv("CSD_RUNTIME_THREADS");
  return text == nullptr ? 0 : static_cast<std::size_t>(std::strtoul(text, nullptr, 10));
}

std::string_view ending(const client::StepResult& read) {
  return read.status == client::Status::ok ? "EOF" : client::to_string(read.status);
}

std::string printable(std::string_view request) {
  std::string out = "\"";
  for (const char c : request) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out + "\"";
}

::testing::AssertionResult GotExactReply(const client::FetchResult& r, uint64_t asked) {
  if (r.outcome == client::Outcome::ok && r.received == asked)
    return ::testing::AssertionSuccess();
  if (r.outcome == client::Outcome::timeout)
    ::testing::Test::RecordProperty(std::string(harness::kTimedOutProperty), r.detail);
  // "expected 4096 bytes then EOF, got 4095 then EOF (...)": what ended the reply.
  const auto ending = [](client::Outcome outcome) -> std::string_view {
    switch (outcome) {
      case client::Outcome::ok:
      case client::Outcome::short_reply:
        return "EOF";
      case client::Outcome::long_reply:
        return "more bytes";
      case client::Outcome::reset:
        return "a reset";
      case client::Outcome::timeout:
        return "a timeout";
      case client::Outcome::refused:
        return "a refused connect";
      case client::Outcome::error:
        break;
    }
    return "an error";
  };
  return ::testing::AssertionFailure()
         << "expected " << asked << " bytes then EOF, got " << r.received << " then "
         << ending(r.outcome) << (r.detail.empty() ? "" : " (") << r.detail
         << (r.detail.empty() ? "" : ")");
}

uint64_t least_exchanges(uint64_t planned) { return std::max<uint64_t>(planned / 10, 1); }

::testing::AssertionResult EveryConnectionSucceeded(const client::LoadReport& report) {
  if (report.all_ok() &&
      report.connections >= std::min(report.planned, least_exchanges(report.planned)))
    return ::testing::AssertionSuccess();
  if (report.failures() == 0) {
    return ::testing::AssertionFailure()
           << "only " << report.connections << " of " << report.planned
           << " exchanges fit in the check's budget, each of them served; at least "
           << least_exchanges(report.planned) << " must, to judge the server by";
  }
  if (const auto timed_out = report.outcomes[static_cast<std::size_t>(client::Outcome::timeout)];
      timed_out > 0) {
    ::testing::Test::RecordProperty(
        std::string(harness::kTimedOutProperty),
        fmt::format("{} of {} connections timed out", timed_out, report.connections));
  }
  auto failure = ::testing::AssertionFailure();
  failure << report.failures() << " of " << report.connections << " connections failed:";
  for (std::size_t i = 1; i < client::kOutcomeCount; ++i) {
    if (report.outcomes[i] != 0) {
      failure << " " << client::to_string(static_cast<client::Outcome>(i)) << "="
              << report.outcomes[i];
    }
  }
  for (const auto& detail : report.first_failures) failure << "\n  " << detail;
  return failure;
}

}  // namespace csd::suite
