// load/*: the seed's client.py load, 10 concurrent clients x 100
// connections, in each protocol: every design serves it, the iterative one
// only more slowly.
#include <fmt/format.h>

#include <chrono>
#include <iostream>

#include "check.hpp"
#include "server_test.hpp"

namespace csd::suite {
namespace {

class Load : public ServerTest {
 public:
  using ServerTest::ServerTest;
};

constexpr harness::AppliesTo kSpeaksSize{.protocol = harness::WireProtocol::size};
constexpr harness::AppliesTo kSpeaksEcho{.protocol = harness::WireProtocol::echo};
// Again over ::1 for a manifest that serves IPv6 too.
const Runs kAlsoOverIpv6{.on_ipv6_copy = true};

CSD_CHECK(
    Load, TenClientsSize, kSpeaksSize,
    {.id = "load/ten-clients-size",
     .level = Level::required,
     .statement = "10 concurrent clients x 100 connections of 4096 bytes each (as many as fit in "
                  "half the budget, at least 100) all succeed.",
     .why_level =
         "The seed's client.py load: every design serves it, the iterative one only more slowly.",
     .proven_by = {"drops-when-busy"},
     .by_hand = "csd-client -i {host} -p {port} -c 10 -t 100 -b 4096",
     .runs = kAlsoOverIpv6,
     .budget = 30s}) {
  const auto report = load(10, 100, 4096);
  RecordProperty("connections_per_second", fmt::format("{:.0f}", report.connections_per_second()));
  RecordProperty("latency_p99_us",
                 fmt::format("{}", std::chrono::duration_cast<std::chrono::microseconds>(
                                       report.latency_percentile(0.99))
                                       .count()));
  std::cout << client::format_human(report);
  EXPECT_TRUE(EveryConnectionSucceeded(report));
}

CSD_CHECK(
    Load, TenClientsEcho, kSpeaksEcho,
    {.id = "load/ten-clients-echo",
     .level = Level::required,
     .statement = "10 concurrent clients x 100 echo connections of 4096 bytes each (as many as fit "
                  "in half the budget, at least 100) all succeed.",
     .why_level = "The seed's load, with the echo protocol: every design serves it.",
     .proven_by = {"drops-when-busy-echo"},
     .by_hand = "csd-client -i {host} -p {port} -c 10 -t 100 --protocol echo -b 4096",
     .runs = kAlsoOverIpv6,
     .budget = 30s}) {
  EXPECT_TRUE(EveryConnectionSucceeded(load(10, 100, 4096)));
}

}  // namespace
}  // namespace csd::suite
