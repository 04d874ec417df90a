// csd-bench on a tiny load: the baseline, csd-iterative and csd-prefork, 5
// clients x 4 connections x 4000 bytes, one repetition. Checks what it
// writes (the JSON document, the Markdown and terminal tables and the
// figure rendered from it), never a time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "run.hpp"

namespace csd::unit {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr int kConnections = 5 * 4;
const std::vector<std::string> kDesigns{"csd-citerative", "csd-iterative", "csd-prefork"};

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The number at `pointer` ("/median/conns_per_s"); a failure naming the
// field, and NaN, if there is none, so a renamed field reads as such.
double number_at(const json& j, const std::string& pointer, const std::string& whose) {
  const json::json_pointer path(pointer);
  if (j.contains(path) && j[path].is_number())
    return j[path].get<double>();
  ADD_FAILURE() << whose << " has no number at " << pointer;
  return std::numeric_limits<double>::quiet_NaN();
}

// The summary row of `design` (null if there is none).
const json& row_of(const json& document, const std::string& design) {
  static const json none;
  for (const json& row : document["summary"]) {
    if (row["design"] == design)
      return row;
  }
  return none;
}

class CsdBench : public ::testing::Test {
 protected:
  // One run for the whole suite: every test reads the same output.
  static void SetUpTestSuite() {
    const auto dir =
        std::filesystem::path(::testing::TempDir()) / fmt::format("csd-bench-test-{}", ::getpid());
    std::filesystem::create_directories(dir);
    const std::string impls = CSD_FIXTURE_IMPLS;
    result_ = harness::run_to_completion({CSD_BENCH,    "-q",
                                          "--impl",     impls + "/iterative.json",
                                          "--impl",     impls + "/prefork.json",
                                          "--clients",  "5",
                                          "--conns",    "4",
                                          "--bytes",    "4000",
                                          "--reps",     "1",
                                          "--json",     (dir / "bench.json").string(),
                                          "--markdown", (dir / "bench.md").string(),
                                          "--svg",      (dir / "bench.svg").string(),
                                          "--html",     (dir / "bench.html").string()},
                                         60s);
    document_ = json::parse(read_text(dir / "bench.json"), nullptr, false);
    markdown_ = read_text(dir / "bench.md");
    svg_ = read_text(dir / "bench.svg");
    html_ = read_text(dir / "bench.html");
    std::filesystem::remove_all(dir);
  }

  static inline harness::RunResult result_;
  static inline json document_;
  static inline std::string markdown_;
  static inline std::string svg_;
  static inline std::string html_;
};

TEST_F(CsdBench, ExitsZeroWithOneValidRunPerDesign) {
  ASSERT_EQ(result_.exit_code, 0) << result_.output;
  ASSERT_FALSE(document_.is_discarded()) << "the JSON does not parse";
  ASSERT_THAT(document_["runs"], SizeIs(kDesigns.size()));
  for (const json& run : document_["runs"]) {
    const std::string design = run.value("design", "a run without a design");
    EXPECT_TRUE(run.value("valid", false)) << design << ": " << run.value("invalid_reason", "");
    EXPECT_EQ(number_at(run, "/load/connections", design), kConnections);
    for (const char* figure :
         {"conns_per_s", "server_cpu_us_per_conn", "system_cpu_us_per_conn", "cpu_busy",
          "wakeups_per_conn", "client_cpu_us_per_conn", "latency_p50_us", "latency_p99_us"}) {
      number_at(run, std::string("/figures/") + figure, design);
    }
    for (const char* counter : {"cpu_busy_ticks", "cpu_total_ticks", "listen_overflows"})
      number_at(run, std::string("/system/") + counter, design);
    EXPECT_LE(number_at(run, "/figures/cpu_busy", design), 1.0);
  }
}

TEST_F(CsdBench, RecordsTheMachine) {
  for (const std::string fact : {"date", "kernel", "loadavg", "ip_local_port_range", "tcp_tw_reuse",
                                 "compiler", "build_type"}) {
    EXPECT_THAT(document_.value(json::json_pointer("/machine/" + fact), ""), Not(IsEmpty()))
        << fact;
  }
  EXPECT_GE(number_at(document_, "/machine/cores", "the machine"), 1);
}

// The server's own table, read from what it printed at SIGTERM.
TEST_F(CsdBench, PreforkWorkerCountsAddUpToTheConnections) {
  const auto prefork = std::ranges::find_if(
      document_["runs"], [](const json& run) { return run.value("design", "") == "csd-prefork"; });
  ASSERT_TRUE(prefork != document_["runs"].end()) << "no run of csd-prefork";
  const auto counts =
      prefork->value(json::json_pointer("/server/worker_counts"), std::vector<int64_t>{});
  EXPECT_THAT(counts, SizeIs(4));
  EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), int64_t{0}), kConnections);
  EXPECT_EQ(
      row_of(document_, "csd-prefork").value(json::json_pointer("/distribution/counts"), json()),
      json(counts));
}

// Stevens' figure: server CPU per connection minus the baseline's; and
// conn/s over the baseline's in the same repetition.
TEST_F(CsdBench, EveryRowHasItsOverheadOverTheBaseline) {
  ASSERT_THAT(document_["summary"], SizeIs(kDesigns.size()));
  const json& baseline = row_of(document_, "csd-citerative");
  EXPECT_EQ(baseline.value("baseline", false), true);
  const double baseline_cpu = number_at(baseline, "/median/server_cpu_us_per_conn", "baseline");
  for (const auto& design : kDesigns) {
    const json& row = row_of(document_, design);
    ASSERT_TRUE(row.is_object()) << "no summary row for " << design;
    EXPECT_EQ(number_at(row, "/valid_runs", design), 1);
    EXPECT_DOUBLE_EQ(number_at(row, "/overhead_us_per_conn", design),
                     number_at(row, "/median/server_cpu_us_per_conn", design) - baseline_cpu);
    EXPECT_EQ(number_at(row, "/vs_baseline/reps", design), 1);
    EXPECT_GT(number_at(row, "/vs_baseline/median", design), 0);
  }
  EXPECT_EQ(number_at(baseline, "/overhead_us_per_conn", "baseline"), 0.0);
  EXPECT_EQ(number_at(baseline, "/vs_baseline/median", "baseline"), 1.0);
}

// The tables are rendered from the JSON: the same figures, the overhead first.
TEST_F(CsdBench, TablesShowTheJsonFiguresOverheadFirst) {
  for (const char* fact :
       {"| kernel |", "| load average before |", "| compiler |", "| build type |", "| command |"}) {
    EXPECT_THAT(markdown_, HasSubstr(fact));
  }
  EXPECT_THAT(markdown_, HasSubstr("\n## 5 clients × 4 conns × 4000 bytes\n"));
  const std::string header = "| design | overhead µs/conn | server CPU µs/conn | conn/s | ×";
  EXPECT_THAT(markdown_, HasSubstr(header));
  EXPECT_THAT(result_.output, HasSubstr("overhead µs/conn"));  // the terminal table
  for (const auto& design : kDesigns) {
    const json& row = row_of(document_, design);
    const std::string cells = fmt::format("| {}{} | {:+.1f} | {:.1f} | {:.0f} | {:.2f} |", design,
                                          row.value("baseline", false) ? " (baseline)" : "",
                                          number_at(row, "/overhead_us_per_conn", design),
                                          number_at(row, "/median/server_cpu_us_per_conn", design),
                                          number_at(row, "/median/conns_per_s", design),
                                          number_at(row, "/vs_baseline/median", design));
    EXPECT_THAT(markdown_, HasSubstr(cells)) << "no Markdown row for " << design;
    EXPECT_THAT(result_.output, HasSubstr(design));
  }
}

// --svg: Figure 30.1 drawn from the same summary, a bar per design in each
// of its three charts, each saying its value on hover; --html: the figure
// inline, and the tables.
TEST_F(CsdBench, FigureHasABarPerDesignForOverheadConnsAndP99) {
  EXPECT_THAT(svg_, ::testing::StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(svg_, HasSubstr("5 clients × 4 conns × 4000 bytes"));
  for (const auto& design : kDesigns) {
    const json& row = row_of(document_, design);
    const std::string name = design + (row.value("baseline", false) ? " (baseline)" : "");
    EXPECT_THAT(svg_, HasSubstr(fmt::format("<title>{}: {:.1f} µs per connection</title>", name,
                                            number_at(row, "/overhead_us_per_conn", design))));
    EXPECT_THAT(svg_, HasSubstr(fmt::format("<title>{}: {:.0f} conn/s</title>", name,
                                            number_at(row, "/median/conns_per_s", design))));
    EXPECT_THAT(svg_, HasSubstr(fmt::format("<title>{}: {:.0f} µs</title>", name,
                                            number_at(row, "/median/latency_p99_us", design))));
  }
  EXPECT_THAT(html_, HasSubstr("<figure>\n" + svg_));
  EXPECT_THAT(html_, HasSubstr("overhead µs/conn"));  // the tables
  EXPECT_THAT(html_, Not(HasSubstr("<script")));
}

TEST_F(CsdBench, AnUnknownDesignIsBadUsage) {
  const auto result =
      harness::run_to_completion({CSD_BENCH, "-q", "--only", "no-such-design"}, 30s);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, HasSubstr("--only no-such-design: no such design"));
}

}  // namespace
}  // namespace csd::unit
