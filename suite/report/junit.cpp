#include "junit.hpp"

#include <fmt/format.h>

#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "xml_text.hpp"

namespace csd::report {

using harness::xml_escaped;

namespace {

// The testcases written as failures: flaky ones too, unless allowed.
int failures_of(const Tally& tally, bool flaky_allowed) {
  return tally.failed + (flaky_allowed ? 0 : tally.flaky);
}

std::string testcase_name(const Outcome& test) {
  return test.check_id.empty() ? test.check : fmt::format("{} ({})", test.check_id, test.check);
}

void write_testcase(const Outcome& test, bool flaky_allowed, std::ostream& out) {
  out << fmt::format(R"(    <testcase classname="{}" name="{}" time="{:.3f}")",
                     xml_escaped(test.implementation), xml_escaped(testcase_name(test)),
                     test.seconds);
  if (test.verdict == Outcome::Verdict::pass) {
    out << "/>\n";
    return;
  }
  out << ">\n";
  std::string evidence;
  for (const auto& [label, file] :
       {std::pair{"capture", &test.capture}, std::pair{"server output", &test.server_output},
        std::pair{"processes", &test.process_tree}}) {
    if (!file->empty())
      evidence += fmt::format("\n{}: {}", label, *file);
  }
  if (!test.reproduce.empty())
    evidence += fmt::format("\nrerun: {}", test.reproduce);
  if (!test.by_hand.empty() && test.verdict != Outcome::Verdict::skip)
    evidence += fmt::format("\nby hand, on a server you started on PORT: {}", test.by_hand);
  switch (test.verdict) {
    case Outcome::Verdict::fail:
      out << fmt::format(R"(      <failure message="{}" type="failure">{}{}</failure>)",
                         xml_escaped(test.reason), xml_escaped(test.details), xml_escaped(evidence))
          << "\n";
      break;
    case Outcome::Verdict::warn:
      out << fmt::format("      <system-out>WARNING (recommended check): {}\n{}{}</system-out>\n",
                         xml_escaped(test.reason), xml_escaped(test.details),
                         xml_escaped(evidence));
      break;
    case Outcome::Verdict::skip:
      out << fmt::format(R"(      <skipped message="{}"/>)", xml_escaped(test.reason)) << "\n";
      break;
    case Outcome::Verdict::flaky:
      // A failure, unless csd-report --allow-flaky let the run pass with it.
      if (flaky_allowed)
        out << fmt::format("      <system-out>FLAKY (allowed): {}\n{}{}</system-out>\n",
                           xml_escaped(test.reason), xml_escaped(test.details),
                           xml_escaped(evidence));
      else
        out << fmt::format(R"(      <failure message="{}" type="flaky">{}{}</failure>)",
                           xml_escaped(test.reason), xml_escaped(test.details),
                           xml_escaped(evidence))
            << "\n";
      break;
    case Outcome::Verdict::pass:
      break;
  }
  out << "    </testcase>\n";
}

}  // namespace

void write_junit(const Summary& summary, std::ostream& out) {
  // By implementation, each in the order its checks ran.
  std::map<std::string, std::vector<const Outcome*>> suites;
  for (const auto& test : summary.tests) suites[test.implementation].push_back(&test);
  const Tally total = summary.total();
  out << R"(<?xml version="1.0" encoding="UTF-8"?>)"
      << "\n";
  // Adjacent literals: the element on one line of output, the source within 100 columns.
  out << fmt::format(R"(<testsuites name="csd conformance" tests="{}" failures="{}")"
                     R"( skipped="{}" time="{:.3f}">)",
                     summary.tests.size(), failures_of(total, summary.flaky_allowed), total.skipped,
                     summary.wall_seconds > 0 ? summary.wall_seconds : total.seconds)
      << "\n";
  for (const auto& [implementation, tests] : suites) {
    const Tally& tally = summary.by_implementation.at(implementation);
    out << fmt::format(R"(  <testsuite name="{}" tests="{}" failures="{}" errors="0")"
                       R"( skipped="{}" time="{:.3f}">)",
                       xml_escaped(implementation), tests.size(),
                       failures_of(tally, summary.flaky_allowed), tally.skipped, tally.seconds)
        << "\n";
    for (const Outcome* test : tests) write_testcase(*test, summary.flaky_allowed, out);
    out << "  </testsuite>\n";
  }
  out << "</testsuites>\n";
}

}  // namespace csd::report
