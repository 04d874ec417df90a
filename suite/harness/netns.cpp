// Verify behavior for the sequence: csd-suite --network 'loss 5%' -> unshare
// the suite's network namespace -> lo up at an Ethernet MTU -> nft drops 5% on
// input, tbf shapes the rate -> every server and client of the run meets them.
#include "netns.hpp"

#include <sched.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <variant>

#include "guarded_process.hpp"
#include "manifest.hpp"  // own_bin_dir
#include "run.hpp"

namespace csd::harness {

using namespace std::chrono_literals;

namespace {

// A real path's MTU rather than lo's 64 KiB: loss and rate then act on
// segments of the size a network carries (5% of 64 KiB segments is another
// network), and tbf's burst (64 KiB) is far above one frame (a frame larger
// than the burst is never sent: a silent blackhole).
constexpr int kPathMtu = 1500;
constexpr std::string_view kTbfBurst = "64kb";
constexpr std::string_view kTbfLatency = "50ms";
constexpr auto kToolTimeout = 10s;

std::optional<NetworkConditions>& conditions_in_force() {
  static std::optional<NetworkConditions> conditions;
  return conditions;
}

std::optional<std::string>& unavailable_reason() {
  static std::optional<std::string> reason;
  return reason;
}

std::vector<std::string> words_of(std::span<const std::string> specs) {
  std::vector<std::string> words;
  for (const auto& spec : specs) {
    std::istringstream in(spec);
    for (std::string word; in >> word;) words.push_back(word);
  }
  return words;
}

std::optional<long> whole_number(std::string_view text) {
  long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

bool is_tc_rate(std::string_view text) {
  static constexpr std::array kUnits{"kbit", "mbit", "gbit", "bit"};
  for (const std::string_view unit : kUnits) {
    if (text.ends_with(unit)) {
      const auto number = whole_number(text.substr(0, text.size() - unit.size()));
      return number && *number > 0;
    }
  }
  return false;
}

// `program` in $PATH, or in the sbin directories a non-login root shell may
// not have there.
std::optional<std::string> find_tool(std::string_view program) {
  if (const auto found = find_in_path(program))
    return found->string();
  for (const std::string_view dir : {"/usr/sbin", "/sbin"}) {
    const auto candidate = std::filesystem::path(dir) / program;
    if (is_executable_file(candidate))
      return candidate.string();
  }
  return std::nullopt;
}

// The tool's output on one line, for a message.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// Runs `argv` to completion; the error ("tc qdisc add ...: <its output>") if
// it could not be run or failed.
std::optional<std::string> run_tool(std::vector<std::string> argv) {
  const std::string shown = fmt::format("{}", fmt::join(argv, " "));
  const auto path = find_tool(argv.front());
  if (!path)
    return fmt::format("{}: {} is not installed (not in $PATH, /usr/sbin or /sbin)", shown,
                       argv.front());
  argv.front() = *path;
  const auto result = run_to_completion(argv, std::chrono::milliseconds(kToolTimeout));
  if (result.timed_out)
    return fmt::format("{}: no exit within {} s", shown, kToolTimeout.count());
  if (result.exit_code != 0)
    return fmt::format("{}: {}", shown, one_line(result.output));
  return std::nullopt;
}

NetworkSetup refused(std::string message) {
  return {NetworkSetup::Outcome::refused, std::move(message), {}, {}};
}

// The NFQUEUE number csd-netdelay reads; the namespace is the run's own, so
// no other program can hold it.
constexpr std::string_view kDelayQueue = "0";

// Delay without netem: csd-netdelay holds each TCP packet's verdict for
// `delay`, then iptables' NFQUEUE target (this kernel has no nft queue
// statement) sends every outgoing TCP packet to it. The delayer first, so
// that no packet meets the rule before it listens; --queue-bypass lets
// packets through unheld should it be gone. The error, or the delayer.
std::variant<std::string, std::shared_ptr<detail::GuardedProcess>> delay_with_nfqueue(
    std::chrono::milliseconds delay) {
  const auto delayer_path = own_bin_dir() / "csd-netdelay";
  if (!is_executable_file(delayer_path))
    return fmt::format("{} is not built (it needs libnetfilter-queue-dev)", delayer_path.string());
  auto delayer = std::make_shared<detail::GuardedProcess>(std::vector<std::string>{
      delayer_path.string(), std::string(kDelayQueue), std::to_string(delay.count())});
  if (!delayer->output().wait_for(": ready", detail::Clock::now() + kToolTimeout)) {
    return fmt::format("csd-netdelay did not say it was ready within {} s: {}",
                       kToolTimeout.count(), one_line(delayer->output().text()));
  }
  for (const std::string_view iptables : {"iptables", "ip6tables"}) {
    if (auto error = run_tool({std::string(iptables), "-A", "OUTPUT", "-p", "tcp", "-j", "NFQUEUE",
                               "--queue-num", std::string(kDelayQueue), "--queue-bypass"})) {
      return *error;
    }
  }
  return delayer;
}

}  // namespace

std::string NetworkConditions::describe() const {
  std::vector<std::string> parts;
  if (loss_percent)
    parts.push_back(fmt::format("loss {}%", *loss_percent));
  if (rate)
    parts.push_back("rate " + *rate);
  if (delay)
    parts.push_back(fmt::format("delay {}ms", delay->count()));
  return fmt::format("{}", fmt::join(parts, ", "));
}

double NetworkConditions::default_timeout_multiplier() const {
  double multiplier = 1;
  // A lost SYN is retried after 1 s, then 2 s; a lost segment after 200 ms
  // at least, doubling: a quick deadline needs room for one or two of those.
  if (loss_percent)
    multiplier = 4;
  // Replies of a few MB at 8 mbit/s take seconds where lo takes milliseconds.
  if (rate || delay)
    multiplier = std::max(multiplier, 2.0);
  return multiplier;
}

ParsedConditions parse_network_conditions(std::span<const std::string> specs) {
  ParsedConditions parsed;
  auto& conditions = parsed.conditions;
  const auto words = words_of(specs);
  const auto fail = [&](std::string error) {
    parsed.error = std::move(error);
    return parsed;
  };
  if (words.empty())
    return fail("no condition (expected 'loss 5%', 'rate 8mbit' or 'delay 20ms')");
  for (std::size_t i = 0; i < words.size(); i += 2) {
    const std::string& kind = words[i];
    if (i + 1 >= words.size())
      return fail(fmt::format("'{}' needs a value ('loss 5%', 'rate 8mbit', 'delay 20ms')", kind));
    const std::string_view value = words[i + 1];
    if (kind == "loss") {
      const auto percent =
          whole_number(value.ends_with('%') ? value.substr(0, value.size() - 1) : value);
      if (!percent || *percent < 1 || *percent > 99)
        return fail(fmt::format("loss {}: a whole percentage from 1% to 99%", value));
      if (conditions.loss_percent)
        return fail("loss is given twice");
      conditions.loss_percent = static_cast<int>(*percent);
    } else if (kind == "rate") {
      if (!is_tc_rate(value))
        return fail(
            fmt::format("rate {}: a whole number of bit, kbit, mbit or gbit (8mbit)", value));
      if (conditions.rate)
        return fail("rate is given twice");
      conditions.rate = std::string(value);
    } else if (kind == "delay") {
      const auto ms =
          value.ends_with("ms") ? whole_number(value.substr(0, value.size() - 2)) : std::nullopt;
      if (!ms || *ms < 1 || *ms > 10'000)
        return fail(fmt::format("delay {}: milliseconds from 1ms to 10000ms (20ms)", value));
      if (conditions.delay)
        return fail("delay is given twice");
      conditions.delay = std::chrono::milliseconds(*ms);
    } else {
      return fail(fmt::format("'{}' is no condition (loss, rate or delay)", kind));
    }
  }
  return parsed;
}

NetworkSetup enter_network_namespace(const NetworkConditions& conditions) {
  // unshare() moves the calling thread only: a thread that exists already
  // would stay, with every client or server it starts, on the host's lo.
  const auto threads = std::distance(std::filesystem::directory_iterator("/proc/self/task"),
                                     std::filesystem::directory_iterator());
  if (threads != 1) {
    return refused(fmt::format(
        "csd-suite has {} threads before unsharing its network namespace; it must have one",
        threads));
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    NetworkSetup setup{NetworkSetup::Outcome::unavailable,
                       fmt::format("cannot make a network namespace: unshare: {}; the checks need "
                                   "root (CAP_SYS_ADMIN) for --network",
                                   std::strerror(errno)),
                       {},
                       {}};
    unavailable_reason() = setup.message;
    return setup;
  }
  std::vector<std::string> made_with;
  if (auto error = run_tool({"ip", "link", "set", "lo", "up", "mtu", std::to_string(kPathMtu)}))
    return refused("cannot bring up the namespace's loopback: " + *error);
  made_with.push_back(fmt::format("lo mtu {}", kPathMtu));

  if (conditions.loss_percent) {
    // The input hook: a packet dropped there was seen by a capture on lo and
    // never reaches the socket, so the loss shows as retransmissions in the
    // capture (dropped on output or in a qdisc, it would be invisible).
    const auto rule = fmt::format(
        "add table inet csd; "
        "add chain inet csd input {{ type filter hook input priority 0; policy accept; }}; "
        "add rule inet csd input numgen random mod 100 < {} counter drop",
        *conditions.loss_percent);
    if (auto error = run_tool({"nft", rule}))
      return refused(fmt::format("loss {}% needs nftables: {}", *conditions.loss_percent, *error));
    made_with.push_back("loss: nft numgen drop in the input hook");
  }

  std::string root = "root";
  std::shared_ptr<void> helpers;
  if (conditions.rate) {
    if (auto error = run_tool({"tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "tbf",
                               "rate", *conditions.rate, "burst", std::string(kTbfBurst), "latency",
                               std::string(kTbfLatency)})) {
      return refused(fmt::format("rate {} needs tc's tbf: {}", *conditions.rate, *error));
    }
    made_with.push_back(fmt::format("rate: tbf burst {} latency {}", kTbfBurst, kTbfLatency));
    root = "parent 1:1";  // a delay goes under the shaper
  }

  if (conditions.delay) {
    std::vector<std::string> argv{"tc", "qdisc", "add", "dev", "lo"};
    std::istringstream where(root);
    for (std::string word; where >> word;) argv.push_back(word);
    for (const std::string word : {"handle", "10:", "netem", "delay"}) argv.push_back(word);
    argv.push_back(fmt::format("{}ms", conditions.delay->count()));
    if (auto netem_error = run_tool(argv)) {
      auto delayer = delay_with_nfqueue(*conditions.delay);
      if (const auto* error = std::get_if<std::string>(&delayer)) {
        return refused(
            fmt::format("delay {}ms needs netem (absent: {}) or NFQUEUE with "
                        "csd-netdelay ({}); loss and rate work without either",
                        conditions.delay->count(), *netem_error, *error));
      }
      helpers = std::get<std::shared_ptr<detail::GuardedProcess>>(std::move(delayer));
      made_with.push_back("delay: csd-netdelay on NFQUEUE (no netem), each TCP packet on output");
    } else {
      made_with.push_back("delay: netem");
    }
  }
  conditions_in_force() = conditions;
  return {NetworkSetup::Outcome::ready,
          {},
          fmt::format("{} (own namespace; {})", conditions.describe(), fmt::join(made_with, "; ")),
          std::move(helpers)};
}

const std::optional<std::string>& network_unavailable() { return unavailable_reason(); }

const std::optional<NetworkConditions>& network_conditions() { return conditions_in_force(); }

std::optional<long long> snmp_tcp_field(std::string_view snmp, std::string_view field) {
  std::istringstream in{std::string(snmp)};
  std::string header;
  std::string values;
  while (std::getline(in, header)) {
    if (!header.starts_with("Tcp:"))
      continue;
    if (!std::getline(in, values))
      return std::nullopt;
    std::istringstream names(header);
    std::istringstream numbers(values);
    std::string name;
    std::string number;
    while (names >> name && numbers >> number) {
      if (name == field)
        return whole_number(number);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<long long> nft_counter_packets(std::string_view listing) {
  constexpr std::string_view kMark = "counter packets ";
  const auto at = listing.find(kMark);
  if (at == std::string_view::npos)
    return std::nullopt;
  auto rest = listing.substr(at + kMark.size());
  rest = rest.substr(0, rest.find(' '));
  return whole_number(rest);
}

NetworkCounters read_network_counters() {
  NetworkCounters counters;
  std::ifstream snmp("/proc/self/net/snmp");
  const std::string text{std::istreambuf_iterator<char>(snmp), std::istreambuf_iterator<char>()};
  counters.retransmitted_segments = snmp_tcp_field(text, "RetransSegs");
  if (const auto nft = find_tool("nft")) {
    const auto result = run_to_completion({*nft, "list", "chain", "inet", "csd", "input"},
                                          std::chrono::milliseconds(kToolTimeout));
    if (result.exit_code == 0)
      counters.dropped_packets = nft_counter_packets(result.output);
  }
  return counters;
}

}  // namespace csd::harness
