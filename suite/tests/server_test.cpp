#include "server_test.hpp"

#include <fmt/format.h>

#include <csignal>

#include "check.hpp"
#include "evidence.hpp"
#include "procfs.hpp"
#include "timeouts.hpp"

namespace csd::suite {

void ServerTest::SetUp() {
  RecordProperty("implementation", manifest().name);
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  if (const CheckDeclaration* check = find_check(test->test_suite_name(), test->name())) {
    RecordProperty("check_id", check->info.id);
    RecordProperty("level", std::string(to_string(check->info.level)));
  }
  RecordProperty("model", manifest().model);
  try {
    server_ = harness::ServerProcess::start(manifest(), launch_);
  } catch (const std::exception& e) {
    FAIL() << "could not start " << manifest().name << " (" << manifest().path.string() << "):\n"
           << e.what();
  }
  if (full_pool_at_start_) {
    ASSERT_TRUE(pool_is_full_within(5000ms));
  }
}

void ServerTest::TearDown() {
  if (!server_)
    return;
  // The processes as the failure left them, before stopping them changes that.
  const std::string tree =
      HasFailure() && !stopped_ ? harness::tree_snapshot(server_->tree()) : std::string();
  const harness::StopReport report = stopped_ ? *stopped_ : server_->stop(SIGTERM, 2000ms);
  if (const auto line = harness::find_sanitizer_report(report.output)) {
    ADD_FAILURE() << "the server's output holds a sanitizer report: " << *line;
  }
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
  keep_evidence("server_output", ".server.txt", output);
  if (!tree.empty()) {
    std::cout << "--- its processes at the failure:\n" << tree;
    keep_evidence("process_tree", ".processes.txt", tree);
  }
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

client::FetchResult ServerTest::fetch(uint64_t bytes, bool bare) {
  client::FetchOptions options;
  options.protocol = client_protocol(manifest().protocol);
  options.bytes = bytes;
  options.bare = bare;
  options.timeout = harness::scaled_ms(options.timeout);
  // A deadline too: under --network loss the FIN after an echo's half-close
  // can be lost and retransmitted more than once (200 ms RTO, doubling).
  options.echo_close_wait = harness::scaled_ms(options.echo_close_wait);
  return client::fetch(target(), options);
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
  return client::run_load(options);
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

::testing::AssertionResult GotExactReply(const client::FetchResult& r, uint64_t asked) {
  if (r.outcome == client::Outcome::ok && r.received == asked)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "asked for " << asked << " bytes, got " << r.received << " ("
         << client::to_string(r.outcome) << (r.detail.empty() ? "" : ": ") << r.detail << ")";
}

::testing::AssertionResult EveryConnectionSucceeded(const client::LoadReport& report) {
  if (report.all_ok())
    return ::testing::AssertionSuccess();
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
