// csd-suite: the conformance suite as one gtest binary.
//
//   csd-suite [--impl FILE.json|DIR ...] [--progress=auto|on|off] [--list-checks] [gtest flags]
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
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "demos.hpp"
#include "environment.hpp"
#include "manifest.hpp"
#include "progress.hpp"
#include "timeouts.hpp"

#ifndef CSD_DEFAULT_IMPL_DIR
#error "CSD_DEFAULT_IMPL_DIR must name fixtures/impls"
#endif

namespace fs = std::filesystem;
using csd::harness::Manifest;

namespace {

constexpr std::string_view kUsage = R"(csd-suite: conformance checks for concurrent TCP servers.

Usage: csd-suite [--impl FILE.json|DIR]... [--demo NAME=PATH]... [--progress=auto|on|off]
                 [--timeout-multiplier=X] [--list-checks] [gtest flags]

  --impl FILE.json   an implementation manifest to test (repeatable); a
                     directory means every *.json in it
  CSD_IMPL=A.json:B.json
                     the same through the environment
  Without either: the reference implementations in )" CSD_DEFAULT_IMPL_DIR R"(
  --progress=MODE    which check is running and how many are done, on one
                     line of stderr rewritten in place; only ever on a
                     terminal. auto (default): when stdout is not one too
                     (csd-suite >log); on: even when it is; off: never
  --list-checks      every check, where it applies (protocol, kind of
                     workers, worker count), and how many of the
                     implementations it applies to; then exit
  --timeout-multiplier=X
                     every deadline the checks wait on times X (0.1 to
                     100), for slow machines and sanitizer builds; also
                     CSD_TIMEOUT_MULTIPLIER=X (the flag wins). Default 1
  --demo NAME=PATH   the program PATH plays the demo NAME (csd-rstserver,
                     csd-sigpipe, ...) in the demo families' tests, instead
                     of the one next to csd-suite (repeatable)

A check is a test of an implementation only where it applies: the others are
not registered (see --list-checks), neither run nor reported as skipped. The
demo families (Rst, Sigpipe, SignalRace, Sendfile, Cork: tests of the programs
of impl/demos) run with the reference implementations or with --demo, not
when --impl or CSD_IMPL names the servers to validate.

Useful gtest flags: --gtest_list_tests, --gtest_filter='*Reply*prefork*',
--gtest_output=json:results.json, --gtest_brief=1.
Exit status: 0 all passed, 1 a check failed, 2 bad manifest or usage (an
unknown flag, too: nothing runs).
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
  bool list_checks = false;
};

double parse_multiplier(std::string_view text, std::string_view where) {
  const auto multiplier = csd::harness::parse_timeout_multiplier(text);
  if (!multiplier)
    usage_error(fmt::format("{}{}: a number from 0.1 to 100", where, text));
  return *multiplier;
}

OwnArguments take_own_arguments(int& argc, char** argv) {
  OwnArguments own;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--impl") {
      if (i + 1 >= argc)
        usage_error("--impl needs a manifest file");
      own.impls.emplace_back(argv[++i]);
    } else if (arg.starts_with("--impl=")) {
      own.impls.emplace_back(arg.substr(7));
    } else if (arg.starts_with("--progress=")) {
      const auto mode = csd::suite::parse_progress_mode(arg.substr(11));
      if (!mode)
        usage_error(fmt::format("{}: the mode is auto, on or off", arg));
      own.progress = *mode;
    } else if (arg == "--timeout-multiplier" || arg.starts_with("--timeout-multiplier=")) {
      if (arg == "--timeout-multiplier" && i + 1 >= argc)
        usage_error("--timeout-multiplier needs a number");
      const std::string_view value =
          arg == "--timeout-multiplier" ? std::string_view(argv[++i]) : arg.substr(21);
      own.timeout_multiplier = parse_multiplier(value, "--timeout-multiplier ");
    } else if (arg == "--list-checks") {
      own.list_checks = true;
    } else if (arg == "--demo" || arg.starts_with("--demo=")) {
      if (arg == "--demo" && i + 1 >= argc)
        usage_error("--demo needs NAME=PATH");
      const std::string_view spec = arg == "--demo" ? std::string_view(argv[++i]) : arg.substr(7);
      own.demo_given = true;
      if (!csd::suite::override_demo(spec))
        usage_error(fmt::format("--demo {}: expected NAME=PATH, NAME one of the demos ({})", spec,
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

// --list-checks: one line per check, e.g.
//   Distribution.EveryWorkerAccepts   8 of 30   size protocol; process pool; at least 1 worker
void list_checks(const std::vector<Manifest>& implementations) {
  std::size_t width = 0;
  for (const auto& check : csd::suite::declared_checks())
    width = std::max(width, check.full_name().size());
  for (const auto& check : csd::suite::declared_checks()) {
    const auto applicable =
        std::count_if(implementations.begin(), implementations.end(),
                      [&](const Manifest& m) { return csd::harness::applies(check.where, m); });
    std::cout << fmt::format("{:<{}}  {:>3} of {:<3}  {}\n", check.full_name(), width, applicable,
                             implementations.size(), csd::harness::describe(check.where));
  }
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

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage << "\n";
      testing::InitGoogleTest(&argc, argv);  // appends gtest's own flag list
      return 0;
    }
  }
  const OwnArguments own = take_own_arguments(argc, argv);
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
  }
  std::vector<std::string> sources = own.impls;
  if (sources.empty()) {
    if (const char* env = std::getenv("CSD_IMPL"); env != nullptr && *env != '\0')
      sources = split_path_list(env);
  }
  // The demo families test the project's own demos: they run with the
  // reference implementations, or when --demo puts a program in, never
  // when the run validates someone's server.
  const bool with_demos = sources.empty() || own.demo_given;
  if (sources.empty())
    sources.emplace_back(CSD_DEFAULT_IMPL_DIR);

  std::vector<Manifest> implementations;
  try {
    implementations = load_all(sources);
  } catch (const csd::harness::ManifestError& e) {
    std::cerr << "csd-suite: bad manifest: " << e.what() << "\n";
    return 2;
  }
  if (own.list_checks) {
    list_checks(implementations);
    return 0;
  }

  if (!with_demos)
    csd::suite::exclude_demo_families();
  const auto registered = csd::suite::register_applicable_checks(implementations);
  // Outside any test: properties of the whole run, which csd-report reads
  // from the JSON results.
  testing::Test::RecordProperty("checks_not_applicable", registered.not_applicable);
  record_environment();
  const csd::suite::Progress progress(own.progress);
  return RUN_ALL_TESTS();
}
