#include "suite_run.hpp"

#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
// Boost 1.81 with BOOST_PROCESS_USE_STD_FS needs these before v2.hpp (see
// suite/harness/guarded_process.cpp).
#include <boost/optional.hpp>
#include <boost/type_traits/remove_pointer.hpp>
#include <type_traits>
// (this comment keeps clang-format from sorting the two above below this one)
#include <boost/process/v2.hpp>
#include <csignal>
#include <deque>
#include <fstream>
#include <string_view>

#include "die_with_parent.hpp"
#include "evidence_files.hpp"

namespace csd::report {

namespace fs = std::filesystem;
namespace bp = boost::process::v2;

namespace {

constexpr std::string_view kRunPrefix = ".run.";

// The files a run leaves in the results folder: its own, and each failed
// check's evidence. Anything else there is the user's and stays.
bool is_result_file(const fs::path& file) {
  // conformance.json and conformance.log: an older csd's names.
  static constexpr std::array<std::string_view, 8> kNames = {
      "report.json", "junit.xml", "report.html",      "suite.json",
      "suite.log",   "run.json",  "conformance.json", "conformance.log"};
  const std::string name = file.filename().string();
  for (const auto known : kNames) {
    if (name == known)
      return true;
  }
  for (const auto suffix : harness::evidence::kSuffixes) {
    if (name.ends_with(suffix))
      return true;
  }
  return false;
}

// A run's folder whose csd-report no longer exists (it was SIGKILLed).
bool is_abandoned_run(const fs::path& folder) {
  const std::string name = folder.filename().string();
  if (!name.starts_with(kRunPrefix))
    return false;
  const std::string pid = name.substr(kRunPrefix.size());
  return !pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos &&
         !fs::exists("/proc/" + pid);
}

volatile std::sig_atomic_t g_child = 0;

void pass_on(int sig) {
  if (g_child > 0)
    (void)::kill(g_child, sig);
}

}  // namespace

ResultsFolder::ResultsFolder(fs::path dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.is_directory() && is_abandoned_run(entry.path()))
      fs::remove_all(entry.path());
  }
  staging_ = dir_ / (std::string(kRunPrefix) + std::to_string(::getpid()));
  fs::remove_all(staging_);
  fs::create_directory(staging_);
}

ResultsFolder::~ResultsFolder() {
  std::error_code ignored;
  fs::remove_all(staging_, ignored);
}

void ResultsFolder::replace_last_run() {
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.is_regular_file() && is_result_file(entry.path()))
      fs::remove(entry.path());
  }
  for (const auto& entry : fs::directory_iterator(staging_))
    fs::rename(entry.path(), dir_ / entry.path().filename());
}

int run_to_exit(const std::vector<std::string>& argv, const fs::path& log) {
  boost::asio::io_context context;
  const std::vector<std::string> args(argv.begin() + 1, argv.end());
  // {} for stdin and stderr: ours. DieWithParent: SIGKILL when we die.
  bp::process child(context, argv.at(0), args, bp::process_stdio{{}, log, {}},
                    harness::DieWithParent{});
  g_child = child.id();
  struct sigaction action {};
  action.sa_handler = pass_on;
  ::sigemptyset(&action.sa_mask);
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &action, nullptr);
  child.wait();  // restarts after EINTR, so a passed-on signal ends it through the child
  g_child = 0;
  return child.native_exit_code();
}

std::string tail_of(const fs::path& file, int count) {
  std::ifstream in(file);
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > count)
      lines.pop_front();
  }
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

}  // namespace csd::report
