// csd-report's HTML page, opened the way a person opens it: in a browser
// (headless Chromium), which renders it, takes a screenshot and gives back
// the page as it laid it out. Verify: the verdict matrix with a cell per
// verdict (an implementation's verdict on ::1 in the same cell), each
// failure's evidence one click from its cell, the charts.
#include "html.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "run.hpp"
#include "summary.hpp"
#include "temp_dir.hpp"

namespace csd::report {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

Summary sample() {
  const auto report = nlohmann::json::parse(R"json({"time": "2s", "testsuites": [
    {"name": "Impl/Size", "testsuite": [
      {"name": "SmallRepliesExact/a", "value_param": "a", "status": "RUN",
       "result": "COMPLETED", "time": "0.5s", "implementation": "csd-prefork",
       "check_id": "size/small-replies-exact", "level": "required"},
      {"name": "SmallRepliesExact/b", "value_param": "b", "status": "RUN",
       "result": "COMPLETED", "time": "0.5s", "implementation": "my-server",
       "check_id": "size/small-replies-exact", "level": "required",
       "capture": "Impl_Size.SmallRepliesExact_b.pcap",
       "failures": [{"failure": "x.cpp:1\nFailed\nasked for 1 bytes, got 0", "type": ""}]},
      {"name": "SmallRepliesExact/a_ipv6", "value_param": "a@ipv6", "status": "RUN",
       "result": "COMPLETED", "time": "0.5s", "implementation": "csd-prefork@ipv6",
       "check_id": "size/small-replies-exact", "level": "required",
       "failures": [{"failure": "x.cpp:1\nFailed\nrefused on ::1", "type": ""}]},
      {"name": "RequestSplit/a", "value_param": "a", "status": "RUN",
       "result": "COMPLETED", "time": "0.5s", "implementation": "csd-prefork",
       "check_id": "size/split-request", "level": "required"},
      {"name": "RequestSplit/a_ipv6", "value_param": "a@ipv6", "status": "RUN",
       "result": "SKIPPED", "time": "0s", "implementation": "csd-prefork@ipv6",
       "check_id": "size/split-request", "level": "required",
       "skipped_because": "no ::1 here"}]},
    {"name": "Impl/Pool", "testsuite": [
      {"name": "EveryWorkerAccepts/a", "value_param": "a", "status": "RUN",
       "result": "COMPLETED", "time": "1s", "implementation": "csd-prefork",
       "check_id": "pool/every-worker-accepts", "level": "required",
       "distribution": "114 123 124 119"}]},
    {"name": "Impl/Pool", "testsuite": [
      {"name": "DeclaredWakeups/a", "value_param": "a", "status": "RUN",
       "result": "COMPLETED", "time": "1s", "implementation": "csd-prefork",
       "check_id": "pool/declared-wakeups", "level": "required",
       "wakeups_per_connection": "3.35"}]}]})json");
  Summary summary;
  add_results(report, summary);
  return summary;
}

// Debian's chromium, or the name other distributions give it.
std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    if (harness::find_in_path(name))
      return name;
  }
  return "";
}

TEST(HtmlReport, ChromiumRendersTheMatrixTheEvidenceAndTheCharts) {
  const std::string browser = chromium();
  if (browser.empty())
    GTEST_SKIP() << "chromium is not installed (ci/install-deps.sh installs it where it is a deb)";
  const harness::TempDir dir("csd-html-test");
  const auto page = dir.path() / "report.html";
  {
    std::ofstream out(page);
    write_html(sample(), out);
  }
  // Its own profile: two tests at once (ctest -j) must not share one.
  const std::vector<std::string> headless{browser,
                                          "--headless",
                                          "--no-sandbox",
                                          "--disable-gpu",
                                          "--user-data-dir=" + (dir.path() / "profile").string(),
                                          "--window-size=1000,1400"};
  auto argv = headless;
  argv.push_back("--screenshot=" + (dir.path() / "report.png").string());
  argv.push_back("file://" + page.string());
  const auto shot = harness::run_to_completion(argv, 60s);
  ASSERT_TRUE(std::filesystem::exists(dir.path() / "report.png")) << shot.output;
  const auto png_bytes = std::filesystem::file_size(dir.path() / "report.png");
  RecordProperty("screenshot_bytes", static_cast<int>(png_bytes));
  EXPECT_GT(png_bytes, 10'000U) << "a blank page is a few KB";

  argv = headless;
  argv.push_back("--dump-dom");
  argv.push_back("file://" + page.string());
  const auto dom = harness::run_to_completion(argv, 60s);
  ASSERT_EQ(dom.exit_code, 0) << dom.output;
  const std::string& html = dom.output;
  EXPECT_THAT(html, HasSubstr(R"x(<table id="matrix">)x"));
  EXPECT_THAT(html, HasSubstr(R"x(<td class="pass">✓</td>)x"));
  // The failed cell links to its evidence, which names the capture.
  EXPECT_THAT(html,
              HasSubstr(R"x(<td class="fail"><a href="#t1" title="asked for 1 bytes, got 0">)x"));
  EXPECT_THAT(html, HasSubstr(R"x(<details id="t1" class="fail" open="">)x"));
  EXPECT_THAT(html, HasSubstr("Impl_Size.SmallRepliesExact_b.pcap"));
  // One column per implementation, csd-prefork's marked as also run on ::1.
  EXPECT_THAT(html, HasSubstr(R"x(<th class="impl" title="csd-prefork, and csd-prefork@ipv6 on )x"
                              R"x(::1">csd-prefork <span class="ipv6">+ ::1</span></th>)x"));
  EXPECT_THAT(html, HasSubstr(R"x(<th class="impl">my-server</th></tr>)x"));
  // A failure on ::1 only: a failed cell, its raised mark linking to the
  // evidence, each mark saying where it ran.
  EXPECT_THAT(html, HasSubstr(R"x(<td class="fail both">)x"
                              R"x(<span title="on 127.0.0.1 (csd-prefork): pass">✓</span>)x"
                              R"x(<span class="ipv6"><a href="#t2" title="on ::1 )x"
                              R"x((csd-prefork@ipv6): fail: refused on ::1">✗</a></span></td>)x"));
  EXPECT_THAT(html, HasSubstr(R"x(<details id="t2" class="fail" open="">)x"
                              R"x(<summary>fail csd-prefork@ipv6)x"));
  // A skip on ::1 only: a skipped cell, the reason on hover.
  EXPECT_THAT(html, HasSubstr(R"x(<td class="skip both">)x"
                              R"x(<span title="on 127.0.0.1 (csd-prefork): pass">✓</span>)x"
                              R"x(<span class="ipv6"><a href="#t4" title="on ::1 )x"
                              R"x((csd-prefork@ipv6): skip: no ::1 here">–</a></span></td>)x"));
  // my-server, which has no copy on ::1 and no split-request test: empty.
  EXPECT_THAT(html, HasSubstr(R"x(<td class="none" title="does not apply"></td></tr>)x"));
  EXPECT_THAT(html, HasSubstr("over 2 implementation(s) (1 of them on ::1 too)."));
  EXPECT_THAT(html, HasSubstr(R"x(<h2 id="wakeups">)x"));
  EXPECT_THAT(html, HasSubstr(R"x(<h2 id="distribution">)x"));
  EXPECT_THAT(html, HasSubstr("<svg"));
}

}  // namespace
}  // namespace csd::report
