// Verify behavior for the sequence: --network specs -> conditions or an error
// that names the bad part; /proc/net/snmp and nft listings -> the counters
// that prove a run's loss happened.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "netns.hpp"

namespace {

using csd::harness::parse_network_conditions;
using namespace std::chrono_literals;

csd::harness::ParsedConditions parse(std::vector<std::string> specs) {
  return parse_network_conditions(specs);
}

TEST(NetworkConditions, OneStringOrSeveral) {
  const auto one = parse({"loss 5% rate 8mbit"});
  ASSERT_EQ(one.error, "");
  EXPECT_EQ(one.conditions.loss_percent, 5);
  EXPECT_EQ(one.conditions.rate, "8mbit");
  EXPECT_FALSE(one.conditions.delay);
  const auto several = parse({"loss 5", "delay 20ms"});
  ASSERT_EQ(several.error, "");
  EXPECT_EQ(several.conditions.loss_percent, 5);
  EXPECT_EQ(several.conditions.delay, 20ms);
  EXPECT_EQ(several.conditions.describe(), "loss 5%, delay 20ms");
}

TEST(NetworkConditions, BadSpecsNameTheirFault) {
  EXPECT_EQ(parse({"loss 0%"}).error, "loss 0%: a whole percentage from 1% to 99%");
  EXPECT_EQ(parse({"loss 2.5%"}).error, "loss 2.5%: a whole percentage from 1% to 99%");
  EXPECT_EQ(parse({"rate fast"}).error,
            "rate fast: a whole number of bit, kbit, mbit or gbit (8mbit)");
  EXPECT_EQ(parse({"delay 20"}).error, "delay 20: milliseconds from 1ms to 10000ms (20ms)");
  EXPECT_EQ(parse({"jitter 5ms"}).error, "'jitter' is no condition (loss, rate or delay)");
  EXPECT_EQ(parse({"loss"}).error, "'loss' needs a value ('loss 5%', 'rate 8mbit', 'delay 20ms')");
  EXPECT_EQ(parse({"loss 1%", "loss 2%"}).error, "loss is given twice");
  EXPECT_NE(parse({""}).error, "");
}

TEST(NetworkConditions, LossNeedsMoreRoomThanRate) {
  EXPECT_EQ(parse({"loss 5%"}).conditions.default_timeout_multiplier(), 4);
  EXPECT_EQ(parse({"rate 8mbit"}).conditions.default_timeout_multiplier(), 2);
  EXPECT_EQ(parse({"rate 8mbit loss 1%"}).conditions.default_timeout_multiplier(), 4);
}

TEST(NetworkCounters, RetransSegsFromSnmp) {
  const std::string snmp =
      "Ip: Forwarding DefaultTTL\nIp: 1 64\n"
      "Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets "
      "CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n"
      "Tcp: 1 200 120000 -1 10 10 0 0 0 500 480 37 0 2 0\n"
      "Udp: InDatagrams\nUdp: 0\n";
  EXPECT_EQ(csd::harness::snmp_tcp_field(snmp, "RetransSegs"), 37);
  EXPECT_EQ(csd::harness::snmp_tcp_field(snmp, "MaxConn"), -1);
  EXPECT_FALSE(csd::harness::snmp_tcp_field(snmp, "NoSuchField"));
  EXPECT_FALSE(csd::harness::snmp_tcp_field("Ip: 1\n", "RetransSegs"));
}

TEST(NetworkCounters, DroppedPacketsFromNftListing) {
  const std::string listing =
      "table inet csd {\n\tchain input {\n\t\ttype filter hook input priority filter; policy "
      "accept;\n\t\tnumgen random mod 100 < 5 counter packets 123 bytes 4567 drop\n\t}\n}\n";
  EXPECT_EQ(csd::harness::nft_counter_packets(listing), 123);
  EXPECT_FALSE(csd::harness::nft_counter_packets("table inet csd {}"));
}

}  // namespace
