// csd-report's HTML page, opened the way a person opens it: in a browser
// (headless Chromium), which runs its script, renders it, takes a screenshot
// and gives back the page as it laid it out (--dump-dom). Verify: the
// verdict matrix with a cell per verdict (an implementation's verdict on ::1
// in the same cell), its time and permalink, a check's statement on hover,
// how each implementation closed; each failure's evidence one click from its
// cell, its capture drawn as a ladder with the RST marked; the demo gallery;
// the filters and order read from the URL's fragment; the charts.
#include "html.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "run.hpp"
#include "summary.hpp"
#include "temp_dir.hpp"

namespace csd::report {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

// Tests, in this order (their index is their evidence's anchor, #tN):
// 0-2 size/small-replies-exact (my-server fails, csd-prefork fails on ::1),
// 3-4 size/split-request (skipped on ::1), 5-6 the charts' figures, 7-8
// close/fin-not-rst (my-server resets: its capture is a fixture pcap), 9-11
// the demos (two drawn, one in the gallery's table).
constexpr const char* kResults = R"json({"time": "2s", "testsuites": [
    {"name": "Impl/Size", "testsuite": [
      {"name": "SmallRepliesExact/a", "value_param": "a", "status": "RUN",
       "result": "COMPLETED", "time": "0.5s", "implementation": "csd-prefork",
       "check_id": "size/small-replies-exact", "level": "required",
       "statement": "Each small request gets exactly its bytes."},
      {"name": "SmallRepliesExact/b", "value_param": "b", "status": "RUN",
       "result": "COMPLETED", "time": "0.5s", "implementation": "my-server",
       "check_id": "size/small-replies-exact", "level": "required",
       "statement": "Each small request gets exactly its bytes.",
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
       "check_id": "pool/declared-wakeups", "level": "recommended",
       "wakeups_per_connection": "3.35"}]},
    {"name": "Impl/Close", "testsuite": [
      {"name": "FinNotRst/a", "value_param": "a", "status": "RUN",
       "result": "COMPLETED", "time": "0.2s", "implementation": "csd-prefork",
       "check_id": "close/fin-not-rst", "level": "required", "close": "FIN"},
      {"name": "FinNotRst/b", "value_param": "b", "status": "RUN",
       "result": "COMPLETED", "time": "0.2s", "implementation": "my-server",
       "check_id": "close/fin-not-rst", "level": "required", "close": "RST",
       "capture": "Impl_Close.FinNotRst_b.pcap",
       "failures": [{"failure": "x.cpp:1\nFailed\nexpected a FIN, observed an RST", "type": ""}]}]},
    {"name": "Rst", "testsuite": [
      {"name": "ServerClosesWithRstNotFin", "status": "RUN", "result": "COMPLETED",
       "time": "0.3s", "capture": "Rst.ServerClosesWithRstNotFin.pcap",
       "demo_output": "read a line from 127.0.0.1:59604, closed with RST (SO_LINGER {1, 0})\n"}]},
    {"name": "Cork", "testsuite": [
      {"name": "OnHeaderLeavesWithTheBody", "status": "RUN", "result": "COMPLETED",
       "time": "0.3s", "capture": "Cork.OnHeaderLeavesWithTheBody.pcap"}]},
    {"name": "Sendfile", "testsuite": [
      {"name": "EveryByteAtItsOffset/sendfile_1B_FastReader", "status": "RUN",
       "result": "COMPLETED", "time": "0.1s",
       "demo_output": "listening\nsent 1 bytes with sendfile: 1 calls, 0 short, 0 waits\n"}
      ]}]})json";

// Debian's chromium, or the name other distributions give it.
std::string chromium() {
  for (const char* name : {"chromium", "chromium-browser"}) {
    if (harness::find_in_path(name))
      return name;
  }
  return "";
}

// The page, written once, and what Chromium made of it at a few addresses.
class HtmlReport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    browser_ = chromium();
    if (browser_.empty())
      return;
    dir_.emplace("csd-html-test");
    const fs::path pcaps = CSD_PCAP_FIXTURES;
    for (const auto& [fixture, name] :
         {std::pair{"rst-en10mb.pcap", "Impl_Close.FinNotRst_b.pcap"},
          std::pair{"rst-en10mb.pcap", "Rst.ServerClosesWithRstNotFin.pcap"},
          std::pair{"cork-en10mb.pcap", "Cork.OnHeaderLeavesWithTheBody.pcap"}}) {
      fs::copy_file(pcaps / fixture, dir_->path() / name);
    }
    Summary summary;
    add_results(nlohmann::json::parse(kResults), summary, dir_->path());
    {
      std::ofstream out(page());
      write_html(summary, out);
    }
    screenshot_ = shoot("report.png", "");
    filtered_shot_ = shoot("filtered.png", "#verdict=fail");
    dom_ = dump("");
    failures_only_ = dump("#verdict=fail");
    mine_first_ = dump("#impl=my-*,csd-*&order=failures");
    // To look at them: CSD_KEEP_SCREENSHOTS=DIR keeps the page and its pictures.
    if (const char* keep = std::getenv("CSD_KEEP_SCREENSHOTS"); keep != nullptr) {
      fs::create_directories(keep);
      for (const char* file : {"report.html", "report.png", "filtered.png"})
        fs::copy_file(dir_->path() / file, fs::path(keep) / file,
                      fs::copy_options::overwrite_existing);
    }
  }
  static void TearDownTestSuite() { dir_.reset(); }
  void SetUp() override {
    if (browser_.empty())
      GTEST_SKIP()
          << "chromium is not installed (ci/install-deps.sh installs it where it is a deb)";
  }

  static fs::path page() { return dir_->path() / "report.html"; }

  // Its own profile: two tests at once (ctest -j) must not share one. A
  // virtual time budget lets the page's script run before the DOM is dumped.
  static std::vector<std::string> headless(const std::string& profile) {
    return {browser_,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--user-data-dir=" + (dir_->path() / profile).string(),
            "--window-size=1000,1400",
            "--virtual-time-budget=2000"};
  }
  static std::uintmax_t shoot(const std::string& png, const std::string& fragment) {
    auto argv = headless("profile-" + png);
    argv.push_back("--screenshot=" + (dir_->path() / png).string());
    argv.push_back("file://" + page().string() + fragment);
    const auto shot = harness::run_to_completion(argv, 60s);
    std::error_code error;
    const auto size = fs::file_size(dir_->path() / png, error);
    if (error)
      ADD_FAILURE() << "no screenshot " << png << ": " << shot.output;
    return error ? 0 : size;
  }
  static std::string dump(const std::string& fragment) {
    auto argv = headless("profile-dom");
    argv.push_back("--dump-dom");
    argv.push_back("file://" + page().string() + fragment);
    const auto dom = harness::run_to_completion(argv, 60s);
    if (dom.exit_code != 0)
      ADD_FAILURE() << "chromium --dump-dom " << fragment << ": " << dom.output;
    return dom.output;
  }

  // The text from `start` to the end of its element `end` ("</details>").
  static std::string element(const std::string& dom, const std::string& start,
                             const std::string& end) {
    const auto from = dom.find(start);
    if (from == std::string::npos)
      return "";
    return dom.substr(from, dom.find(end, from) + end.size() - from);
  }

  static inline std::string browser_;
  static inline std::optional<harness::TempDir> dir_;
  static inline std::uintmax_t screenshot_ = 0;
  static inline std::uintmax_t filtered_shot_ = 0;
  static inline std::string dom_;
  static inline std::string failures_only_;
  static inline std::string mine_first_;
};

TEST_F(HtmlReport, ScreenshotsAreNotBlank) {
  RecordProperty("screenshot_bytes", static_cast<int>(screenshot_));
  RecordProperty("filtered_screenshot_bytes", static_cast<int>(filtered_shot_));
  EXPECT_GT(screenshot_, 10'000U) << "a blank page is a few KB";
  EXPECT_GT(filtered_shot_, 10'000U) << "a blank page is a few KB";
}

TEST_F(HtmlReport, MatrixCellsHaveVerdictTimeAndPermalink) {
  EXPECT_THAT(dom_, HasSubstr(R"x(<table id="matrix">)x"));
  EXPECT_THAT(dom_, HasSubstr(R"x(<td id="cell-csd-prefork-pool/every-worker-accepts" )x"
                              R"x(class="pass")x"));
  // The failed cell links to its evidence, and its time to itself.
  EXPECT_THAT(dom_, HasSubstr(R"x(<td id="cell-my-server-size/small-replies-exact" class="fail")x"
                              R"x( data-col="2"><a class="mark" href="#t1" title="asked for 1 )x"
                              R"x(bytes, got 0">✗</a><a class="time" )x"
                              R"x(href="#cell-my-server-size/small-replies-exact" )x"
                              R"x(title="this cell's link">0.5s</a></td>)x"));
  EXPECT_THAT(dom_, HasSubstr(R"x(<details id="t1" class="fail" open="">)x"));
  EXPECT_THAT(dom_, HasSubstr("Impl_Size.SmallRepliesExact_b.pcap"));
  // A check's level and statement on hover; a recommended one in italics.
  EXPECT_THAT(dom_, HasSubstr(R"x(<td class="check required" title="required: )x"
                              R"x(size/small-replies-exact (Size.SmallRepliesExact))x"
                              "\nEach small request gets exactly its bytes.\""));
  EXPECT_THAT(dom_, HasSubstr(R"x(<td class="check recommended" title="recommended: )x"));
  // One column per implementation, csd-prefork's marked as also run on ::1.
  EXPECT_THAT(dom_, HasSubstr(R"x(<th class="impl" data-impl="csd-prefork" title="csd-prefork, )x"
                              R"x(and csd-prefork@ipv6 on ::1" data-col="1">csd-prefork )x"
                              R"x(<span class="ipv6">+ ::1</span></th>)x"));
  // A failure on ::1 only: a failed cell, its raised mark linking to the
  // evidence, each mark saying where it ran.
  EXPECT_THAT(dom_,
              HasSubstr(R"x(class="fail both" data-col="1"><span class="mark">)x"
                        R"x(<span title="on 127.0.0.1 (csd-prefork): pass">✓</span>)x"
                        R"x(<span class="ipv6"><a href="#t2" title="on ::1 )x"
                        R"x((csd-prefork@ipv6): fail: refused on ::1">✗</a></span></span>)x"));
  EXPECT_THAT(dom_, HasSubstr(R"x(<details id="t2" class="fail" open="">)x"
                              R"x(<summary>fail csd-prefork@ipv6)x"));
  // A skip on ::1 only: a skipped cell, the reason on hover.
  EXPECT_THAT(dom_, HasSubstr(R"x(<span class="ipv6"><a href="#t4" title="on ::1 )x"
                              R"x((csd-prefork@ipv6): skip: no ::1 here">–</a></span>)x"));
  // my-server has no split-request test: an empty cell.
  EXPECT_THAT(dom_, HasSubstr(R"x(<td id="cell-my-server-size/split-request" class="none" )x"
                              R"x(title="does not apply" data-col="2"></td>)x"));
  EXPECT_THAT(dom_, HasSubstr("over 2 implementation(s) (1 of them on ::1 too) and the demos."));
  EXPECT_THAT(dom_, HasSubstr(R"x(<p id="filter-note"></p>)x")) << "no filter: no note";
}

TEST_F(HtmlReport, CloseRowSaysFinOrRst) {
  EXPECT_THAT(dom_, HasSubstr(R"x(<tr data-check="close" class="close" data-order="5">)x"));
  EXPECT_THAT(dom_, ContainsRegex(R"x(<td id="cell-csd-prefork-close" class="close close-fin" )x"
                                  R"x(data-col="1"><a class="time" [^>]*>FIN</a>)x"));
  EXPECT_THAT(dom_, ContainsRegex(R"x(<td id="cell-my-server-close" class="close close-rst" )x"
                                  R"x(data-col="2"><a class="time" [^>]*>RST</a>)x"));
}

// The failure's capture (a fixture pcap of an RST) drawn under it: an
// inline SVG whose RST arrow is thick and in the failure's colour, server to
// client, labelled, and the transcript beside it.
TEST_F(HtmlReport, FailureShowsItsLadderWithTheRstMarked) {
  const std::string evidence = element(dom_, R"x(<details id="t8")x", "</details>");
  ASSERT_THAT(evidence, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_THAT(evidence, ContainsRegex(R"x(<line x1="690" y1="[0-9]+" x2="119" y2="[0-9]+" )x"
                                      R"x(stroke="#f99" stroke-width="3")x"));
  EXPECT_THAT(evidence, HasSubstr(">0.000081 [R.] seq 1:1(0) ack 1 win 64  (RST)</text>"));
  EXPECT_THAT(evidence, HasSubstr("<details class=\"transcript\">"));
  EXPECT_THAT(evidence, HasSubstr("0.000081 server &gt; client  [R.]  seq 1:1(0) ack 1 win 64  "
                                  "(RST)"));
  // A capture that is gone: said so, and the rest of the evidence stands.
  const std::string gone = element(dom_, R"x(<details id="t1")x", "</details>");
  EXPECT_THAT(gone, HasSubstr("cannot read "));
  EXPECT_THAT(gone, Not(HasSubstr("<svg")));
}

TEST_F(HtmlReport, DemoGalleryDrawsEachCaptureWithWhatToWatch) {
  const std::string gallery = element(dom_, R"x(<section id="demo-gallery">)x", "</section>\n</");
  ASSERT_THAT(gallery, Not(HasSubstr("</body>")));
  EXPECT_THAT(gallery, HasSubstr(R"x(<section class="demo-family" id="demo-Rst">)x"));
  EXPECT_THAT(gallery, HasSubstr("<h3>RST vs FIN: csd-rstserver, with and without --graceful"));
  EXPECT_THAT(gallery, HasSubstr("<p class=\"watch\">csd-rstserver reads one line"));
  EXPECT_THAT(gallery, HasSubstr("closed with RST (SO_LINGER {1, 0})"));  // the program's output
  EXPECT_THAT(gallery, HasSubstr("<h3>TCP_CORK on vs TCP_NODELAY</h3>"));
  EXPECT_THAT(gallery, HasSubstr("0.000365 [P.] seq 1:4201(4200) ack 1 win 64</text>"));
  EXPECT_THAT(gallery, HasSubstr(R"x(<figure class="ladder"><svg)x"));
  // A demo test without a capture: a line of the table, its tally.
  EXPECT_THAT(gallery,
              HasSubstr("<code>sent 1 bytes with sendfile: 1 calls, 0 short, 0 waits</code>"));
}

// report.html#verdict=fail: the failed cells alone; a row or column with
// none is hidden, a cell that does not match in a row that stays is blanked.
TEST_F(HtmlReport, HashFilterHidesCellsThatDoNotMatch) {
  EXPECT_THAT(failures_only_, HasSubstr(R"x(<tr data-check="size/split-request" )x"
                                        R"x(data-order="1" hidden="">)x"));
  EXPECT_THAT(failures_only_, HasSubstr(R"x(<tr data-check="close/fin-not-rst" data-order="4">)x"));
  EXPECT_THAT(failures_only_,
              HasSubstr(R"x(<td id="cell-csd-prefork-close/fin-not-rst" class="pass off")x"));
  EXPECT_THAT(
      failures_only_,
      HasSubstr(R"x(<td id="cell-my-server-close/fin-not-rst" class="fail" data-col="2">)x"));
  EXPECT_THAT(failures_only_, HasSubstr("<p id=\"filter-note\">Showing 3 of "));
  EXPECT_THAT(dom_, HasSubstr(R"x(<tr data-check="size/split-request" data-order="1">)x"));
}

// report.html#impl=...&order=failures: the implementation with the most
// failures first, and the rows likewise; a column the glob leaves out is hidden.
TEST_F(HtmlReport, HashOrderPutsFailuresFirst) {
  const auto my_server = mine_first_.find(R"x(<th class="impl" data-impl="my-server")x");
  const auto prefork = mine_first_.find(R"x(<th class="impl" data-impl="csd-prefork")x");
  ASSERT_NE(my_server, std::string::npos);
  ASSERT_NE(prefork, std::string::npos);
  EXPECT_LT(my_server, prefork) << "my-server has 2 failures, csd-prefork 1";
  EXPECT_LT(mine_first_.find(R"x(<tr data-check="close/fin-not-rst")x"),
            mine_first_.find(R"x(<tr data-check="size/split-request")x"));
  EXPECT_GT(dom_.find(R"x(<tr data-check="close/fin-not-rst")x"),
            dom_.find(R"x(<tr data-check="size/split-request")x"));
}

TEST_F(HtmlReport, ChartsAndNoExternalFile) {
  EXPECT_THAT(dom_, HasSubstr(R"x(<h2 id="wakeups">)x"));
  EXPECT_THAT(dom_, HasSubstr(R"x(<h2 id="distribution">)x"));
  EXPECT_THAT(dom_, Not(ContainsRegex(R"x(<(script|link|img)[^>]* (src|href)=")x")));
}

}  // namespace
}  // namespace csd::report
