#include "options.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <array>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <utility>
#include <vector>

#include "demos.hpp"
#include "kernel_features.hpp"
#include "manifest.hpp"
#include "timeouts.hpp"

namespace csd::suite {

namespace {

constexpr std::string_view kDescription = R"(NAME
  csd-suite - conformance checks for concurrent TCP servers

SYNOPSIS
  csd-suite [--impl FILE.json|DIR]... [--demo NAME=PATH]... [--progress=auto|on|off]
            [--timeout-multiplier=X] [--checks PATTERN]... [--skip-checks PATTERN]...
            [--strict] [--network 'COND']... [--max-processes N] [--max-memory SIZE]
            [--max-file-size SIZE] [--list-checks[=FORMAT]] [--assume-model NAME=MODEL]...
            [gtest flags]

DESCRIPTION
  Checks each server described by a manifest (docs/MANIFEST.md) against the properties
  of its design: whole replies, concurrency, process and thread shape, accept wake-ups,
  shutdown, robustness. A check is a test of an implementation only where it applies:
  the others are not registered (see --list-checks), neither run nor reported as
  skipped. Each check's test is Impl/FAMILY.CHECK/IMPLEMENTATION, the family its ID's
  prefix (size/split-request: Impl/Size.SplitRequest/csd_fork). The demo families (Rst,
  Sigpipe, SignalRace, Sendfile, Cork: tests of the programs of impl/demos) run with the
  reference implementations or with --demo, not when --impl or CSD_IMPL names the
  servers to validate. Kernel features (SO_REUSEPORT, EPOLLEXCLUSIVE, CLONE_NEWNET,
  CAP_NET_RAW) are probed once per run and recorded as env_feature_* properties; a check
  whose design or own needs lack one is skipped with the reason. A manifest whose model
  is "auto" has its server watched first (docs/IDENTIFY.md), and the model it shows
  decides its checks (unknown: other's); stderr says what was seen. csd-report runs
  csd-suite and writes its results for people and CI.
)";

constexpr std::string_view kFooter =
    R"(  Useful gtest flags: --gtest_list_tests, --gtest_filter='*Size*prefork*',
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
  {impl_dir}/*.json
                               the reference implementations' manifests
  csd-guard, csd-* servers and demos: next to csd-suite (build/bin, or the installed bin)

EXAMPLES
  csd-suite --impl my-server.json                     validate one server
  csd-suite --impl my-server.json --checks 'size/*'   only the size protocol's checks
  csd-suite --list-checks                             what is checked, and where
  csd-suite --gtest_filter='*Concurrency*'            one family on the reference servers

SEE ALSO
  csd-report(1), csd-guard(1), csd-client(1), docs/MANIFEST.md, docs/CHECKS.md)";

// "A.json:B.json:DIR" as a list, empty items left out.
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

}  // namespace

void usage_error(const std::string& problem) {
  std::cerr << "csd-suite: " << problem << " (csd-suite --help)\n";
  std::exit(2);
}

SuiteOptions parse_suite_options(int& argc, char** argv) {
  SuiteOptions options;
  CLI::App app{std::string(kDescription)};
  app.option_defaults()->group("OPTIONS");
  app.set_help_flag("-h,--help", "This help, then googletest's flags, and exit");
  app.footer(fmt::format(kFooter, fmt::arg("impl_dir", harness::default_impl_dir().string())));
  // Whatever is not ours is googletest's: InitGoogleTest takes its flags and
  // leaves the rest, which main() refuses.
  app.allow_extras();

  app.add_option("--impl", options.impls,
                 "An implementation manifest to test (repeatable); a directory means every "
                 "*.json in it. Without --impl or CSD_IMPL: the reference implementations (FILES)")
      ->allow_extra_args(false);
  std::string progress = "auto";
  app.add_option("--progress", progress,
                 "Which check is running and how many are done, on one line of stderr rewritten "
                 "in place; only ever on a terminal. auto: when stdout is not one too (csd-suite "
                 ">log); on: even when it is; off: never")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->default_str("auto");
  std::string list_checks;
  app.add_flag("--list-checks{text}", list_checks,
               "The check catalogue, then exit: each check's ID, level, where it applies and how "
               "many of the implementations that is, and what it asserts. FORMAT (as "
               "--list-checks=FORMAT): text (default), markdown (docs/CHECKS.md), json")
      ->check(CLI::IsMember({"text", "markdown", "json"}))
      ->option_text("[=FORMAT]");
  app.add_option("--checks", options.selection.include,
                 "Only the checks whose ID matches (fnmatch: 'size/*'); repeatable")
      ->allow_extra_args(false);
  app.add_option("--skip-checks", options.selection.exclude,
                 "Not the checks whose ID matches; repeatable")
      ->allow_extra_args(false);
  app.add_flag("--strict", options.strict,
               "A failed recommended check fails the run too (without it: a warning)");
  app.add_option("--timeout-multiplier", options.timeout_multiplier,
                 "Scale every deadline by X (0.1 to 100): slow machines, sanitizer builds")
      ->check(CLI::Range(0.1, 100.0));
  std::vector<std::string> demos;
  app.add_option("--demo", demos,
                 "NAME=PATH: the program PATH plays the demo NAME (csd-rstserver, csd-sigpipe, "
                 "...) in the demo families' tests, instead of the one next to csd-suite "
                 "(repeatable)")
      ->allow_extra_args(false);
  app.add_option("--network", options.network,
                 "Run every server and client in a network namespace of the run's own, under "
                 "COND: 'loss 5%' (nftables drops on input), 'rate 8mbit' (tbf), 'delay 20ms' "
                 "(netem, else csd-netdelay on NFQUEUE); repeatable, or several in one string. "
                 "Only the checks that run on any path (not pool/*, shape/*: they measure the "
                 "design on a quick loopback); the timeouts are scaled (loss x4, rate or delay "
                 "x2) unless a multiplier is given. Needs root: without, every check is skipped "
                 "with the reason")
      ->allow_extra_args(false);
  std::string max_processes;
  app.add_option("--max-processes", max_processes,
                 "Every server's tree may have at most N processes: csd-guard counts it every "
                 "5 ms and kills it past N (a fork bomb), and the check that ran it fails naming "
                 "the limit. A manifest's \"limits\" may be tighter: the smaller wins")
      ->check(CLI::Range(1, 1 << 22));
  std::string max_memory;
  app.add_option("--max-memory", max_memory,
                 "Every server's tree may use at most SIZE anonymous resident memory (RssAnon: "
                 "not the libraries it maps), summed over its processes (bytes, or with K, M, "
                 "G: 512M), counted and enforced as --max-processes");
  std::string max_file_size;
  app.add_option("--max-file-size", max_file_size,
                 "Every server runs with RLIMIT_FSIZE SIZE: a write past it kills the writer "
                 "with SIGXFSZ (a server that fills the disk), and the check fails naming it");
  app.add_option("--assume-model", options.assume_models,
                 "NAME=MODEL, for csd-report's use: the manifest NAME says \"model\": \"auto\", "
                 "and its server was watched already and showed MODEL (a model, or unknown): "
                 "take it rather than watch again, so that every csd-suite of a run registers "
                 "the same tests (repeatable)")
      ->allow_extra_args(false);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help() << "\n";
    int gtest_argc = 2;
    std::array<char*, 3> gtest_argv{argv[0], const_cast<char*>("--help"), nullptr};
    testing::InitGoogleTest(&gtest_argc, gtest_argv.data());  // prints googletest's flags
    std::exit(0);
  } catch (const CLI::ParseError& e) {
    usage_error(e.what());
  }

  for (const auto& [flag, text] :
       {std::pair{"--max-memory", &max_memory}, std::pair{"--max-file-size", &max_file_size},
        std::pair{"--max-processes", &max_processes}}) {
    if (!text->empty() && !options.limits.set_from_flag(flag, *text))
      usage_error(fmt::format("{} {}: a size: bytes, or with K, M, G (512M)", flag, *text));
  }
  if (!list_checks.empty())
    options.list_checks = parse_catalogue_format(list_checks);
  options.progress = *parse_progress_mode(progress);
  for (const auto& spec : demos) {
    options.demo_given = true;
    if (!override_demo(spec)) {
      usage_error(fmt::format("--demo {}: expected NAME=PATH, NAME one of the demos ({})", spec,
                              fmt::join(demo_names(), ", ")));
    }
  }
  // The environment, where the flags leave a value unset: a bad value is
  // refused before anything runs, as a bad flag is.
  if (options.impls.empty()) {
    if (const char* env = std::getenv("CSD_IMPL"); env != nullptr && *env != '\0')
      options.impls = split_path_list(env);
  }
  if (const char* env = std::getenv("CSD_TIMEOUT_MULTIPLIER");
      env != nullptr && !options.timeout_multiplier) {
    options.timeout_multiplier = harness::parse_timeout_multiplier(env);
    if (!options.timeout_multiplier)
      usage_error(fmt::format("CSD_TIMEOUT_MULTIPLIER={}: a number from 0.1 to 100", env));
  }
  // A test's pretence that the kernel lacks a feature: a name that is no
  // feature would pretend nothing, silently.
  if (const char* pretend = std::getenv(harness::kPretendMissingVariable); pretend != nullptr) {
    const auto parsed = harness::parse_pretend_missing(pretend);
    if (!parsed.unknown.empty()) {
      std::vector<std::string_view> known;
      known.reserve(harness::kEveryKernelFeature.size());
      for (const auto feature : harness::kEveryKernelFeature)
        known.push_back(harness::to_string(feature));
      usage_error(fmt::format("{}={}: {} is no kernel feature (one of {})",
                              harness::kPretendMissingVariable, pretend,
                              fmt::join(parsed.unknown, ", "), fmt::join(known, ", ")));
    }
  }
  // What CLI11 did not take goes on to googletest, in its order.
  const std::vector<std::string> rest = app.remaining();
  static std::vector<std::string> kept;  // argv points into it until the process ends
  kept = rest;
  argc = 1;
  for (auto& arg : kept) argv[argc++] = arg.data();
  argv[argc] = nullptr;
  return options;
}

}  // namespace csd::suite
