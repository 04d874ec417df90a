#include "others.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <thread>
#include <vector>

#include "load.hpp"
#include "timeouts.hpp"

namespace csd::suite {

using namespace std::chrono_literals;

namespace {

constexpr int kOthers = 8;
constexpr std::size_t kExchangeBytes = 100;

// One echo exchange with the side kept open: empty if it came back whole.
std::string echo_problem(const client::Target& target, std::chrono::milliseconds wait) {
  std::vector<std::byte> payload(kExchangeBytes);
  client::echo_pattern(0, payload);
  const auto deadline = client::Clock::now() + wait;
  client::StepResult step;
  auto other = client::Connection::open(target, deadline, &step);
  if (other)
    step = other->send_all(payload, deadline);
  std::vector<std::byte> echo(payload.size());
  if (other && step.status == client::Status::ok)
    step = other->read_exact(payload.size(), deadline, echo);
  if (step.status != client::Status::ok) {
    return fmt::format("{} in {} after {} bytes", client::to_string(step.status),
                       step.call.empty() ? "echo" : step.call, step.bytes);
  }
  return echo == payload ? "" : "the echo came back changed";
}

// One size exchange: empty if the whole reply came.
std::string size_problem(const client::Target& target, std::chrono::milliseconds wait) {
  client::FetchOptions options;
  options.bytes = kExchangeBytes;
  options.timeout = wait;
  const auto result = client::fetch(target, options);
  if (result.outcome == client::Outcome::ok && result.received == kExchangeBytes)
    return "";
  return fmt::format("{}: {}", client::to_string(result.outcome), result.detail);
}

}  // namespace

OthersServed serve_others(const client::Target& target, const harness::Manifest& implementation) {
  const auto& traits = implementation.traits;
  const bool some_wait = traits.one_client_at_a_time || traits.listener_per_worker;
  OthersServed others{.asked = kOthers, .wait = harness::scaled_ms(some_wait ? 1000ms : 5000ms)};
  const bool echo = implementation.protocol == harness::WireProtocol::echo;
  std::vector<std::string> problems(kOthers);  // empty: served
  {
    std::vector<std::jthread> clients;
    clients.reserve(kOthers);
    for (auto& problem : problems) {
      clients.emplace_back([&problem, echo, target, wait = others.wait] {
        problem = echo ? echo_problem(target, wait) : size_problem(target, wait);
      });
    }
  }
  others.served = static_cast<int>(std::count(problems.begin(), problems.end(), ""));
  std::map<std::string, int> tally;
  for (const auto& problem : problems) {
    if (!problem.empty())
      ++tally[problem];
  }
  for (const auto& [problem, count] : tally)
    others.problems += fmt::format("; {} x {}", count, problem);
  return others;
}

::testing::AssertionResult OthersServedAsTheDesignAllows(const OthersServed& others,
                                                         const harness::Manifest& implementation,
                                                         std::string_view meanwhile) {
  const auto& traits = implementation.traits;
  const std::string observed =
      fmt::format("{} of {} other clients were served within {} ms while {}{}", others.served,
                  others.asked, others.wait.count(), meanwhile, others.problems);
  if (traits.one_client_at_a_time) {
    if (others.served == 0)
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "the design serves one client at a time (model " << implementation.model
           << "): expected none served; " << observed;
  }
  if (traits.listener_per_worker) {
    if (others.served >= 1)
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "expected the others not hashed to the stuck worker's socket served; " << observed;
  }
  if (others.served == others.asked)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected all " << others.asked << " served; " << observed;
}

}  // namespace csd::suite
