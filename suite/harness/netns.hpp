// A bad network for a whole run: csd-suite --network 'loss 5%' moves csd-suite
// itself into a network namespace of its own (unshare, before any thread
// exists), so that every server, client and capture of the run shares its
// degraded loopback, and the namespace dies with the last process in it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace csd::harness {

// What --network asks for. Each is made with what this kernel offers:
// loss with an nftables rule in the input hook, rate with tbf on lo, delay
// with netem where the kernel has it, else with csd-netdelay on NFQUEUE.
struct NetworkConditions {
  std::optional<int> loss_percent;  // 1..99: that share of packets dropped on arrival
  std::optional<std::string> rate;  // in tc's syntax: "8mbit", "500kbit"
  std::optional<std::chrono::milliseconds> delay;

  [[nodiscard]] bool empty() const { return !loss_percent && !rate && !delay; }
  // "loss 5%, rate 8mbit", as given (normalised).
  [[nodiscard]] std::string describe() const;
  // The timeout multiplier a run under these conditions needs when none is
  // given: a lost SYN costs 1 s and a lost segment at least 200 ms (RTO),
  // which the deadlines of a quick loopback do not allow for.
  [[nodiscard]] double default_timeout_multiplier() const;
};

struct ParsedConditions {
  NetworkConditions conditions;
  std::string error;  // empty when the specs were understood
};

// Each spec is one or more "KIND VALUE" pairs: "loss 5%", "rate 8mbit
// delay 20ms". A kind given twice, an unknown kind or a bad value is an error
// that names it.
ParsedConditions parse_network_conditions(std::span<const std::string> specs);

struct NetworkSetup {
  enum class Outcome {
    ready,        // in the namespace, every condition in force
    unavailable,  // no namespace could be made (no root): skip the run, with `message`
    refused,      // a condition this machine cannot make: `message`, exit 2
  };
  Outcome outcome = Outcome::refused;
  std::string message;
  // For the env_network property: the conditions and how each is made.
  std::string description;
  // The processes a condition needs for the run (csd-netdelay, for delay
  // without netem): running while this is held, killed when it is dropped
  // (and by csd-guard if the suite dies).
  std::shared_ptr<void> helpers;
};

// unshare(CLONE_NEWNET) of the calling process, then lo up and each condition
// applied (ip, nft and tc run as children, in the namespace). Call it before
// any thread exists: a thread started earlier would stay outside.
NetworkSetup enter_network_namespace(const NetworkConditions& conditions);

// The conditions the run is under once enter_network_namespace() has made
// them; nullopt without --network. For the few checks that time exchanges
// against a fixed window, which a lost packet (1 s for a SYN) overruns.
const std::optional<NetworkConditions>& network_conditions();

// The reason every check of the run is skipped when --network could not make
// its namespace (set by enter_network_namespace); nullopt otherwise.
const std::optional<std::string>& network_unavailable();

// Proof that the condition happened, read in the namespace at the end of a
// run: packets the loss rule dropped (its nft counter) and the TCP segments
// retransmitted (RetransSegs of /proc/net/snmp, which is per namespace).
struct NetworkCounters {
  std::optional<long long> dropped_packets;
  std::optional<long long> retransmitted_segments;
};
NetworkCounters read_network_counters();

// The value of `field` in the "Tcp:" lines (header, values) of a
// /proc/net/snmp text; nullopt if absent.
std::optional<long long> snmp_tcp_field(std::string_view snmp, std::string_view field);
// The packets of the first "counter packets N" in nft's listing; nullopt if none.
std::optional<long long> nft_counter_packets(std::string_view listing);

}  // namespace csd::harness
