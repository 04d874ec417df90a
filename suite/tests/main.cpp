// csd-suite: the conformance suite as one gtest binary.
//
//   csd-suite [--impl FILE.json|DIR ...] [--progress=auto|on|off] [--list-checks]
//             [--network 'loss 5%'] [gtest flags]
//   CSD_IMPL=FILE.json[:FILE2.json|DIR] csd-suite
//
// Without --impl or CSD_IMPL it runs over the reference implementations'
// manifests (fixtures/impls/*.json). A manifest that cannot be used is an
// error before any test runs: exit 2 with the file and the field. The tests
// are registered here, once the manifests are loaded: one per (check,
// implementation) pair where the check applies (check.hpp).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalogue.hpp"
#include "check.hpp"
#include "demos.hpp"
#include "environment.hpp"
#include "kernel_features.hpp"
#include "manifest.hpp"
#include "netns.hpp"
#include "progress.hpp"
#include "timeouts.hpp"

namespace fs = std::filesystem;
using csd::harness::Manifest;

namespace {

constexpr std::string_view kUsage = R"(NAME
  csd-suite - conformance checks for concurrent TCP servers

SYNOPSIS
  csd-suite [--impl FILE.json|DIR]... [--demo NAME=PATH]... [--progress=auto|on|off]
            [--timeout-multiplier=X] [--checks PATTERN]... [--skip-checks PATTERN]...
            [--strict] [--network 'COND']... [--list-checks[=FORMAT]] [gtest flags]

DESCRIPTION
  Checks each server described by a manifest (docs/MANIFEST.md) against the properties
  of its design: whole replies, concurrency, process and thread shape, accept wake-ups,
  shutdown, robustness. A check is a test of an implementation only where it applies:
  the others are not registered (see --list-checks), neither run nor reported as
  skipped. The demo families (Rst, Sigpipe, SignalRace, Sendfile, Cork: tests of the
  programs of impl/demos) run with the reference implementations or with --demo, not
  when --impl or CSD_IMPL names the servers to validate. Kernel features (SO_REUSEPORT,
  EPOLLEXCLUSIVE, CLONE_NEWNET, CAP_NET_RAW) are probed once per run and recorded as
  env_feature_* properties; a check whose design or own needs lack one is skipped with
  the reason. csd-report runs csd-suite and writes its results for people and CI.

OPTIONS
  --impl FILE.json   an implementation manifest to test (repeatable); a
                     directory means every *.json in it. Without --impl or
                     CSD_IMPL: the reference implementations (FILES)
  --progress=MODE    which check is running and how many are done, on one
                     line of stderr rewritten in place; only ever on a
                     terminal. auto (default): when stdout is not one too
                     (csd-suite >log); on: even when it is; off: never
  --list-checks[=FORMAT]
                     the check catalogue, then exit: each check's ID, level,
                     where it applies and how many of the implementations
                     that is, and what it asserts. FORMAT: text (default),
                     markdown (docs/CHECKS.md), json
  --checks PATTERN   only the checks whose ID matches (fnmatch: 'size/*');
                     repeatable
  --skip-checks PATTERN
                     not the checks whose ID matches; repeatable
  --strict           a failed recommended check fails the run too (without
                     it: a warning)
  --timeout-multiplier=X
                     scale every deadline by X (0.1 to 100): slow machines,
                     sanitizer builds
  --demo NAME=PATH   the program PATH plays the demo NAME (csd-rstserver,
                     csd-sigpipe, ...) in the demo families' tests, instead
                     of the one next to csd-suite (repeatable)
  --network COND     run every server and client in a network namespace of
                     the run's own, under COND: 'loss 5%' (nftables drops on
                     input), 'rate 8mbit' (tbf), 'delay 20ms' (netem, else
                     csd-netdelay on NFQUEUE); repeatable, or several in one
                     string.
                     Only the correctness and hostile-client families run
                     (Reply, Echo, Robustness, Hostile, Close, Concurrency,
                     Lifecycle); the timeouts are scaled (loss x4, rate or
                     delay x2) unless a multiplier is given. Needs root:
                     without, every check is skipped with the reason
  -h, --help         this help, then googletest's flags, and exit
  Useful gtest flags: --gtest_list_tests, --gtest_filter='*Reply*prefork*',
  --gtest_output=json:results.json, --gtest_brief=1.

EXIT STATUS
  0  every required check passed (recommended ones may have failed: warnings)
  1  a required check failed (with --strict: any)
  2  a bad manifest or usage (an unknown flag, too): nothing runs

ENVIRONMENT
  CSD_IMPL=A.json:B.json|DIR   the manifests, as --impl (the flag wins)
  CSD_TIMEOUT_MULTIPLIER=X     as --timeout-multiplier (the flag wins)
  CSD_GUARD=PATH               the csd-guard servers run under (default: next to csd-suite)
  CSD_EVIDENCE_DIR=DIR         where a failed check's evidence goes without --gtest_output
  CSD_PRETEND_MISSING=SO_REUSEPORT,EPOLLEXCLUSIVE
                               for tests only: the probes report these kernel features
                               absent on a kernel that has them

FILES
  DEFAULT_IMPL_DIR/*.json      the reference implementations' manifests
  csd-guard, csd-* servers and demos: next to csd-suite (build/bin, or the installed bin)

EXAMPLES
  csd-suite --impl my-server.json                     validate one server
  csd-suite --impl my-server.json --checks 'size/*'   only the size protocol's checks
  csd-suite --list-checks                             what is checked, and where
  csd-suite --gtest_filter='*Concurrency*'            one family on the reference servers

SEE ALSO
  csd-report(1), csd-guard(1), csd-client(1), docs/MANIFEST.md, docs/CHECKS.md
)";

[[noreturn]] void usage_error(const std::string& problem) {
  std::cerr << "csd-suite: " << problem << " (csd-suite --help)\n";
  std::exit(2);
}

// csd-suite's own arguments, taken out of argv before googletest sees it.
struct OwnArguments {
  std::vector<std::string> impls;
  bool demo_given = false;
  std::optional<double> timeout_multiplier;
  csd::suite::ProgressMode progress = csd::suite::ProgressMode::automatic;
  std::optional<csd::suite::CatalogueFormat> list_checks;
  csd::suite::CheckSelection selection;
  bool strict = false;
  std::vector<std::string> network;
};

double parse_multiplier(std::string_view text, std::string_view where) {
  const auto multiplier = csd::harness::parse_timeout_multiplier(text);
  if (!multiplier)
    usage_error(fmt::format("{}{}: a number from 0.1 to 100", where, text));
  return *multiplier;
}

// The value of `NAME VALUE` or `NAME=VALUE` at argv[i] (then i is moved past
// a separate value); nullopt if argv[i] is another argument.
std::optional<std::string_view> flag_value(std::string_view name, int& i, int argc, char** argv) {
  const std::string_view arg = argv[i];
  if (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=')
    return arg.substr(name.size() + 1);
  if (arg != name)
    return std::nullopt;
  if (i + 1 >= argc)
    usage_error(fmt::format("{} needs a value", name));
  return std::string_view(argv[++i]);
}

OwnArguments take_own_arguments(int& argc, char** argv) {
  OwnArguments own;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (const auto impl = flag_value("--impl", i, argc, argv)) {
      own.impls.emplace_back(*impl);
    } else if (const auto mode = flag_value("--progress", i, argc, argv)) {
      const auto progress = csd::suite::parse_progress_mode(*mode);
      if (!progress)
        usage_error(fmt::format("--progress {}: the mode is auto, on or off", *mode));
      own.progress = *progress;
    } else if (const auto factor = flag_value("--timeout-multiplier", i, argc, argv)) {
      own.timeout_multiplier = parse_multiplier(*factor, "--timeout-multiplier ");
    } else if (arg == "--list-checks") {
      own.list_checks = csd::suite::CatalogueFormat::text;
    } else if (arg.starts_with("--list-checks=")) {
      own.list_checks = csd::suite::parse_catalogue_format(arg.substr(14));
      if (!own.list_checks)
        usage_error(fmt::format("{}: the format is text, markdown or json", arg));
    } else if (const auto include = flag_value("--checks", i, argc, argv)) {
      own.selection.include.emplace_back(*include);
    } else if (const auto exclude = flag_value("--skip-checks", i, argc, argv)) {
      own.selection.exclude.emplace_back(*exclude);
    } else if (const auto condition = flag_value("--network", i, argc, argv)) {
      own.network.emplace_back(*condition);
    } else if (arg == "--strict") {
      own.strict = true;
    } else if (const auto spec = flag_value("--demo", i, argc, argv)) {
      own.demo_given = true;
      if (!csd::suite::override_demo(*spec))
        usage_error(fmt::format("--demo {}: expected NAME=PATH, NAME one of the demos ({})", *spec,
                                fmt::join(csd::suite::demo_names(), ", ")));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  argv[argc] = nullptr;
  return own;
}

std::vector<std::string> split_path_list(std::string_view list) {
  std::vector<std::string> items;
  while (!list.empty()) {
    const auto colon = list.find(':');
    if (colon != 0)
      items.emplace_back(list.substr(0, colon));
    if (colon == std::string_view::npos)
      break;
    list.remove_prefix(colon + 1);
  }
  return items;
}

std::vector<Manifest> load_all(const std::vector<std::string>& sources) {
  const std::vector<fs::path> search{csd::harness::own_bin_dir()};
  std::vector<Manifest> manifests;
  for (const auto& source : sources) {
    if (fs::is_directory(source)) {
      auto dir = csd::harness::load_manifest_dir(source, search);
      if (dir.empty())
        throw csd::harness::ManifestError(source, "(file)",
                                          "no *.json manifests in this directory");
      manifests.insert(manifests.end(), dir.begin(), dir.end());
    } else {
      manifests.push_back(csd::harness::load_manifest(source, search));
    }
  }
  // Names must be unique: they end every test's name.
  std::vector<std::string> seen;
  for (const auto& m : manifests) {
    const auto name = csd::harness::parameter_name(m.name);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      throw csd::harness::ManifestError(
          m.path, "name", fmt::format("'{}' is used by another manifest too", m.name));
    }
    seen.push_back(name);
  }
  return manifests;
}

// The build and the machine, as env_* properties of the run: csd-report
// prints them with every summary.
void record_environment() {
#ifdef __clang__
  const std::string compiler = "clang " __clang_version__;
#else
  const std::string compiler = "GCC " __VERSION__;
#endif
  const std::string sanitizers = CSD_SANITIZERS;
  testing::Test::RecordProperty(
      "env_csd", fmt::format("{} ({}, {}{})", CSD_VERSION, CSD_BUILD_TYPE, compiler,
                             sanitizers.empty() ? "" : ", sanitizers " + sanitizers));
  for (const auto& [name, value] : csd::harness::machine_environment())
    testing::Test::RecordProperty("env_" + name, value);
}

// The families --network runs: what a server must get right whatever the
// path (correctness, hostile clients). The others measure the design on a
// quick loopback (distribution, wake-ups, shape) or test the demos, and a
// degraded path would measure the path instead. A family's variants count
// as the family (HostileSmallBacklog, HostileFewDescriptors are Hostile).
bool runs_on_a_bad_network(std::string_view family) {
  static constexpr std::array<std::string_view, 7> kFamilies{
      "Reply", "Echo", "Robustness", "Hostile", "Close", "Concurrency", "Lifecycle"};
  return std::any_of(kFamilies.begin(), kFamilies.end(),
                     [&](std::string_view runs) { return family.starts_with(runs); });
}

// Proof that the condition happened, at the end of the run, in the
// namespace: run properties csd-report shows, and a line on stderr.
class NetworkCounterReport : public testing::Environment {
 public:
  void TearDown() override {
    const auto counters = csd::harness::read_network_counters();
    std::vector<std::string> parts;
    if (counters.dropped_packets) {
      testing::Test::RecordProperty("network_dropped_packets",
                                    std::to_string(*counters.dropped_packets));
      parts.push_back(
          fmt::format("{} packets dropped by the loss rule", *counters.dropped_packets));
    }
    if (counters.retransmitted_segments) {
      testing::Test::RecordProperty("network_retransmitted_segments",
                                    std::to_string(*counters.retransmitted_segments));
      parts.push_back(
          fmt::format("{} TCP segments retransmitted", *counters.retransmitted_segments));
    }
    std::cerr << fmt::format("csd-suite: network: {}\n", fmt::join(parts, ", "));
  }
};

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::string usage(kUsage);
      const std::string_view mark = "DEFAULT_IMPL_DIR";
      usage.replace(usage.find(mark), mark.size(), csd::harness::default_impl_dir().string());
      std::cout << usage << "\n";
      testing::InitGoogleTest(&argc, argv);  // appends gtest's own flag list
      return 0;
    }
  }
  const OwnArguments own = take_own_arguments(argc, argv);
  // --network: into the run's own namespace first, while csd-suite is one
  // thread (a thread started before would stay outside), so that every
  // server, client and capture of the run shares it, and it vanishes with
  // the last of them, whatever kills the run.
  std::optional<csd::harness::NetworkConditions> network;
  std::string network_description;
  csd::harness::NetworkSetup network_setup;  // held to the end: its helpers run while it is
  if (!own.network.empty()) {
    const auto parsed = csd::harness::parse_network_conditions(own.network);
    if (!parsed.error.empty())
      usage_error("--network: " + parsed.error);
    network = parsed.conditions;
    if (!own.list_checks) {
      network_setup = csd::harness::enter_network_namespace(*network);
      const auto& setup = network_setup;
      switch (setup.outcome) {
        case csd::harness::NetworkSetup::Outcome::ready:
          network_description = setup.description;
          break;
        case csd::harness::NetworkSetup::Outcome::unavailable:
          std::cerr << "csd-suite: " << setup.message << ": every check is skipped\n";
          network_description = "unavailable: " + setup.message;
          break;
        case csd::harness::NetworkSetup::Outcome::refused:
          std::cerr << "csd-suite: --network " << network->describe() << ": " << setup.message
                    << "\n";
          return 2;
      }
    }
  }
  // googletest takes its own flags out of argv and ignores what it does not
  // know: whatever is left is a mistake, and running every check anyway
  // would hide it.
  testing::InitGoogleTest(&argc, argv);
  if (argc > 1) {
    const std::string_view arg = argv[1];
    usage_error(arg.starts_with("--gtest_") ? fmt::format("unknown googletest flag {}", arg)
                                            : fmt::format("unknown argument {}", arg));
  }
  // Every deadline of the run, scaled once, here: the flag wins over the
  // environment, and a bad value in either is refused before anything runs.
  if (own.timeout_multiplier) {
    csd::harness::set_timeout_multiplier(*own.timeout_multiplier);
  } else if (const char* env = std::getenv("CSD_TIMEOUT_MULTIPLIER"); env != nullptr) {
    csd::harness::set_timeout_multiplier(parse_multiplier(env, "CSD_TIMEOUT_MULTIPLIER="));
  } else if (network) {
    csd::harness::set_timeout_multiplier(network->default_timeout_multiplier());
  }
  // A test's pretence that the kernel lacks a feature: a name that is no
  // feature would pretend nothing, silently.
  if (const char* pretend = std::getenv(csd::harness::kPretendMissingVariable);
      pretend != nullptr) {
    const auto parsed = csd::harness::parse_pretend_missing(pretend);
    if (!parsed.unknown.empty()) {
      std::vector<std::string_view> known;
      known.reserve(csd::harness::kEveryKernelFeature.size());
      for (const auto feature : csd::harness::kEveryKernelFeature)
        known.push_back(csd::harness::to_string(feature));
      usage_error(fmt::format("{}={}: {} is no kernel feature (one of {})",
                              csd::harness::kPretendMissingVariable, pretend,
                              fmt::join(parsed.unknown, ", "), fmt::join(known, ", ")));
    }
  }
  std::vector<std::string> sources = own.impls;
  if (sources.empty()) {
    if (const char* env = std::getenv("CSD_IMPL"); env != nullptr && *env != '\0')
      sources = split_path_list(env);
  }
  // The demo families test the project's own demos: they run with the
  // reference implementations, or when --demo puts a program in, never
  // when the run validates someone's server.
  const bool with_demos = (sources.empty() || own.demo_given) && !network;
  if (sources.empty())
    sources.push_back(csd::harness::default_impl_dir().string());

  std::vector<Manifest> implementations;
  try {
    implementations = csd::harness::with_ipv6_variants(load_all(sources));
  } catch (const csd::harness::ManifestError& e) {
    std::cerr << "csd-suite: bad manifest: " << e.what() << "\n";
    return 2;
  }
  for (const auto& pattern : own.selection.include) {
    const bool any = std::any_of(
        csd::suite::declared_checks().begin(), csd::suite::declared_checks().end(),
        [&](const auto& check) { return csd::suite::id_matches(check.info.id, {pattern}); });
    if (!any)
      usage_error(fmt::format("--checks {}: no check has a matching ID (csd-suite --list-checks)",
                              pattern));
  }
  csd::suite::CheckSelection selection = own.selection;
  if (network) {
    for (const auto& check : csd::suite::declared_checks()) {
      if (!runs_on_a_bad_network(check.family))
        selection.exclude.push_back(check.info.id);
    }
  }
  if (own.list_checks) {
    csd::suite::print_catalogue(*own.list_checks, implementations, selection, std::cout);
    return 0;
  }

  if (!with_demos)
    csd::suite::run_only_checks_of_implementations();
  const auto registered = csd::suite::register_applicable_checks(implementations, selection);
  // Outside any test: properties of the whole run, which csd-report reads
  // from the JSON results.
  testing::Test::RecordProperty("checks_not_applicable", registered.not_applicable);
  record_environment();
  if (network) {
    testing::Test::RecordProperty(
        "env_network",
        fmt::format("{}; timeouts x{}", network_description, csd::harness::timeout_multiplier()));
    if (!csd::harness::network_unavailable())
      testing::AddGlobalTestEnvironment(std::make_unique<NetworkCounterReport>().release());
  }
  const csd::suite::Progress progress(own.progress);
  if (RUN_ALL_TESTS() == 0)
    return 0;
  // googletest failed the run for any failed test; the levels decide.
  return csd::suite::verdict_by_level(own.strict, std::cout);
}
