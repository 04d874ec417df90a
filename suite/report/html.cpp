// report.html: the page, its style, its figures and each failure's evidence;
// the matrix (html_matrix.cpp), the demo gallery (html_gallery.cpp) and the
// ladder diagrams (html_ladder.cpp) are written by parts of their own.
#include "html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "charts.hpp"
#include "html_gallery.hpp"
#include "html_ladder.hpp"
#include "html_matrix.hpp"
#include "html_parts.hpp"

namespace csd::report {

using harness::xml_escaped;

using html::evidence_link;
using html::head_of_file;
using html::row_name;
using html::wire_story;
using html::write_demo_gallery;
using html::write_matrix;

namespace {

constexpr std::string_view kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; } h4 { margin: 1em 0 .3em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: center; }
th.check, td.check { text-align: left; font-family: monospace; }
td.check.recommended { font-style: italic; }
th.impl { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }
.matrix-wrap { overflow: auto; max-height: 85vh; max-width: 100%; display: inline-block; }
#matrix thead th { position: sticky; top: 0; background: #fff; z-index: 2; }
#matrix td.check { position: sticky; left: 0; background: #fff; z-index: 1; white-space: nowrap; }
#matrix td { min-width: 2.2em; }
td.pass { background: #cfc; } td.fail { background: #f99; } td.warn { background: #fd8; }
td.skip { background: #ddd; } td.none { background: #fff; } td.flaky { background: #f9c; }
td.close-fin { background: #cfc; } td.close-rst { background: #f99; }
td.close-none { background: #ddd; }
td.off { background: #fff; } td.off > * { visibility: hidden; }
td:target { outline: 3px solid #36c; outline-offset: -3px; }
td a { color: inherit; text-decoration: none; }
td .mark { display: block; }
td a.time { display: block; font-size: 9px; color: #444; }
td .ipv6 { font-size: .8em; vertical-align: super; margin-left: 1px; }
th .ipv6 { color: #555; }
th .observed { color: #555; font-size: .85em; }
th .observed.news { color: #a40; }
.filters a { margin-left: .6em; } #filter-note { color: #555; min-height: 1em; }
details { margin: .5em 0; } summary { cursor: pointer; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
pre.rerun, pre.by-hand { white-space: pre-wrap; overflow-wrap: anywhere; }
figure.ladder { margin: .5em 0; overflow-x: auto; }
p.note, .env, span.time { color: #555; font-size: .9em; }
span.verdict.pass { color: #080; } span.verdict.fail { color: #c00; }
p.watch { max-width: 60em; }
)";

void write_charts(const Summary& summary, std::ostream& out) {
  std::vector<Bar> wakeups;
  std::vector<std::pair<std::string, std::string>> distributions;
  for (const auto& test : summary.tests) {
    if (const auto w = test.figures.find("wakeups_per_connection"); w != test.figures.end())
      wakeups.push_back({test.implementation, std::stod(w->second)});
    if (const auto d = test.figures.find("distribution");
        d != test.figures.end() && test.check == "Pool.EveryWorkerAccepts")
      distributions.emplace_back(test.implementation, d->second);
  }
  if (!wakeups.empty()) {
    out << "<h2 id=\"wakeups\">Workers woken per accepted connection</h2>\n"
        << "<p>From /proc, while one client at a time connects: about 1 for a pool whose "
           "workers take turns at accept(), the whole pool for a thundering herd.</p>\n"
        << row_chart(wakeups, {.unit = "workers woken"}).svg << "\n";
  }
  if (!distributions.empty()) {
    out << "<h2 id=\"distribution\">Connections per worker</h2>\n"
        << "<p>Under load (Pool.EveryWorkerAccepts), seen from outside.</p>\n";
    for (const auto& [name, counts] : distributions) {
      std::vector<Bar> bars;
      std::istringstream in(counts);
      double count = 0;
      double most = 0;
      while (in >> count) {
        bars.push_back({fmt::format("{}", bars.size()), count});
        most = std::max(most, count);
      }
      out << fmt::format("<h3>{}</h3>\n", xml_escaped(name))
          << column_chart(bars, most, "connections").svg << "\n";
    }
  }
}

// Each failure's, warning's and skip's evidence, one click from its cell:
// what reruns it first, then its whole message, the capture drawn, the
// server's processes and output.
void write_evidence(const Summary& summary, std::ostream& out) {
  out << "<h2 id=\"evidence\">Failures, warnings and skips</h2>\n";
  for (std::size_t i = 0; i < summary.tests.size(); ++i) {
    const Outcome& test = summary.tests[i];
    if (test.verdict == Outcome::Verdict::pass)
      continue;
    const bool skip = test.verdict == Outcome::Verdict::skip;
    out << fmt::format(
        "<details id=\"t{}\" class=\"{}\"{}><summary>{} {} <code>{}</code> ({}): {}</summary>\n", i,
        to_string(test.verdict), skip ? "" : " open", to_string(test.verdict),
        xml_escaped(test.implementation), xml_escaped(row_name(test)), xml_escaped(test.check),
        xml_escaped(test.reason));
    if (!test.reproduce.empty()) {
      out << "<p>rerun this check alone:</p>\n<pre class=\"rerun\">" << xml_escaped(test.reproduce)
          << "</pre>\n";
    }
    if (!test.by_hand.empty() && !skip) {
      out << "<p>by hand, on a server you started on PORT:</p>\n<pre class=\"by-hand\">"
          << xml_escaped(test.by_hand) << "</pre>\n";
    }
    if (!test.details.empty())
      out << "<pre>" << xml_escaped(test.details) << "</pre>\n";
    if (!test.capture.empty()) {
      out << fmt::format("<p>capture: {} (open with Wireshark, or tcpdump -nr)</p>\n",
                         evidence_link(test.capture));
    }
    if (!skip)
      out << wire_story(test);
    // The server's processes and output are short enough to show in place.
    for (const auto& [label, file] :
         {std::pair{"the server's processes at the failure", &test.process_tree},
          std::pair{"the server's output", &test.server_output}}) {
      if (file->empty())
        continue;
      out << fmt::format("<p>{}: {}</p>\n<pre>{}</pre>\n", label, evidence_link(*file),
                         xml_escaped(head_of_file(*file)));
    }
    out << "</details>\n";
  }
}

}  // namespace

void write_html(const Summary& summary, std::ostream& out) {
  const std::vector<ImplementationRow> implementations = summary.rows();
  const Tally total = summary.total();
  const bool with_demos = summary.by_implementation.contains(std::string(kDemos));
  const auto also_on_ipv6 =
      std::ranges::count_if(implementations, [](const auto& r) { return r.on_ipv6.has_value(); });
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<meta name=\"viewport\" content=\"width=device-width\">\n"
      << "<title>csd conformance report</title>\n<style>" << kStyle << "</style>\n</head>\n<body>\n"
      << "<h1>csd conformance report</h1>\n"
      << fmt::format(
             "<p id=\"totals\">{} passed, {} failed, {} warned, {} skipped{}, over {} "
             "implementation(s){}{}.</p>\n",
             total.passed, total.failed, total.warned, total.skipped,
             total.flaky > 0 ? fmt::format(", {} flaky", total.flaky) : "",
             implementations.size() - (with_demos ? 1 : 0),
             also_on_ipv6 > 0 ? fmt::format(" ({} of them on ::1 too)", also_on_ipv6) : "",
             with_demos ? " and the demos" : "");
  out << "<p class=\"env\">";
  for (const auto& [name, value] : summary.environment)
    out << fmt::format("{}: {}<br>", xml_escaped(name), xml_escaped(value));
  out << "</p>\n<h2 id=\"verdicts\">Verdicts</h2>\n"
      << "<p>A cell's mark is its verdict (a failure's links to its evidence below), its time "
         "links to the cell itself; a check's statement and level show on hover (recommended "
         "checks in italics: a failure there is a warning).</p>\n";
  if (also_on_ipv6 > 0) {
    out << "<p>An implementation marked <q>+ ::1</q> ran the correctness checks a second time "
           "on ::1, as NAME@ipv6: its cell shows that verdict as a second, raised mark, and "
           "takes the colour of the worse of the two. Hover over a mark for its verdict.</p>\n";
  }
  write_matrix(summary, out);
  write_demo_gallery(summary, out);
  write_charts(summary, out);
  write_evidence(summary, out);
  out << "</body>\n</html>\n";
}

}  // namespace csd::report
