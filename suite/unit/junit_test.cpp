// csd-report's JUnit XML, held to the schema CI systems read
// (fixtures/junit/junit.xsd, with xmllint): a report a CI system cannot
// read is a broken report. Verify: pass, failure, warning and skip each in
// their place, an implementation's copy on ::1 a suite of its own, and text
// with XML's special and forbidden characters escaped.
#include "junit.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

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
       "result": "COMPLETED", "time": "0.5s", "implementation": "a",
       "check_id": "size/small-replies-exact", "level": "required"},
      {"name": "SmallRepliesExact/b", "value_param": "b", "status": "RUN",
       "result": "COMPLETED", "time": "0.5s", "implementation": "b",
       "check_id": "size/small-replies-exact", "level": "required",
       "capture": "results/x.pcap",
       "failures": [{"failure": "x.cpp:1\nFailed\nasked for <1> & got \"0\" \u0001",
                     "type": ""}]}]},
    {"name": "Impl/Shape", "testsuite": [
      {"name": "PoolReplacesKilledWorker/b", "value_param": "b", "status": "RUN",
       "result": "COMPLETED", "time": "3s", "implementation": "b",
       "check_id": "shape/pool-replaces-killed-worker", "level": "recommended",
       "failures": [{"failure": "x.cpp:2\nFailed\nno replacement", "type": ""}]},
      {"name": "PoolSizeExact/b", "value_param": "b", "status": "RUN",
       "result": "SKIPPED", "time": "0s", "implementation": "b",
       "skipped_because": "no CAP_NET_RAW"}]},
    {"name": "Impl/Robust", "testsuite": [
      {"name": "GarbageClosesTheConnection/a_ipv6", "value_param": "a@ipv6", "status": "RUN",
       "result": "COMPLETED", "time": "0.25s", "implementation": "a@ipv6",
       "check_id": "robust/garbage-closes", "level": "required",
       "failures": [{"failure": "x.cpp:3\nFailed\nrefused on ::1", "type": ""}]}]}]})json");
  Summary summary;
  add_results(report, summary);
  return summary;
}

// xmllint's verdict on `xml` against the schema: "" if valid, else its words.
std::string schema_errors(const std::string& xml) {
  const harness::TempDir dir("csd-junit-test");
  const auto file = dir.path() / "junit.xml";
  std::ofstream(file) << xml;
  const auto run = harness::run_to_completion(
      {"xmllint", "--noout", "--schema", CSD_JUNIT_XSD, file.string()}, 30s);
  if (!run.exit_code)
    return "xmllint did not finish: " + run.output;
  return *run.exit_code == 0 ? "" : run.output;
}

TEST(JUnit, ValidatesAgainstTheSchemaCiSystemsRead) {
  if (!harness::find_in_path("xmllint"))
    GTEST_SKIP() << "xmllint is not installed (ci/install-deps.sh installs libxml2-utils)";
  std::ostringstream xml;
  write_junit(sample(), xml);
  EXPECT_EQ(schema_errors(xml.str()), "") << xml.str();
}

TEST(JUnit, TheSchemaRejectsWhatCiSystemsCannotRead) {
  if (!harness::find_in_path("xmllint"))
    GTEST_SKIP() << "xmllint is not installed (ci/install-deps.sh installs libxml2-utils)";
  // A test case without its classname, and a count that is not one.
  EXPECT_NE(schema_errors(R"(<testsuites><testsuite name="a" tests="x" failures="0" errors="0">)"
                          R"(<testcase name="t" time="1"/></testsuite></testsuites>)"),
            "");
}

TEST(JUnit, EachVerdictInItsPlace) {
  std::ostringstream out;
  write_junit(sample(), out);
  const std::string xml = out.str();
  EXPECT_THAT(xml,
              HasSubstr(R"x(<testsuite name="b" tests="3" failures="1" errors="0" skipped="1")x"));
  EXPECT_THAT(xml, HasSubstr(R"x(name="size/small-replies-exact (Size.SmallRepliesExact)")x"));
  EXPECT_THAT(xml,
              HasSubstr(R"x(<failure message="asked for &lt;1&gt; &amp; got &quot;0&quot; ?")x"));
  EXPECT_THAT(xml, HasSubstr("capture: results/x.pcap</failure>"));
  EXPECT_THAT(xml, HasSubstr("<system-out>WARNING (recommended check): no replacement"));
  EXPECT_THAT(xml, HasSubstr(R"x(<skipped message="no CAP_NET_RAW"/>)x"));
}

// CI systems read the copy on ::1 as an implementation of its own: a suite
// and a classname of its own, its failure not folded into a's.
TEST(JUnit, AnIpv6CopyIsASuiteOfItsOwn) {
  std::ostringstream out;
  write_junit(sample(), out);
  const std::string xml = out.str();
  EXPECT_THAT(xml,
              HasSubstr(R"x(<testsuite name="a" tests="1" failures="0" errors="0" skipped="0")x"));
  EXPECT_THAT(xml, HasSubstr(R"x(<testsuite name="a@ipv6" tests="1" failures="1" errors="0")x"));
  EXPECT_THAT(xml, HasSubstr(R"x(<testcase classname="a@ipv6" name="robust/garbage-closes)x"));
  EXPECT_THAT(xml, HasSubstr(R"x(<testsuites name="csd conformance" tests="5" failures="2")x"));
}

}  // namespace
}  // namespace csd::report
