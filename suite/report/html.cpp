#include "html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "manifest.hpp"
#include "xml_text.hpp"

namespace csd::report {

using harness::xml_escaped;

namespace {

// The start of an evidence file, for the page itself: a server that floods
// its output must not make a page no browser opens.
std::string head_of_file(const std::string& file) {
  constexpr std::size_t kShown = std::size_t{64} * 1024;
  std::ifstream in(file);
  if (!in)
    return "(cannot read " + file + ")";
  std::string text(kShown, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.gcount() == static_cast<std::streamsize>(kShown) && in.peek() != EOF)
    text += "\n... (the rest is in the file)\n";
  return text;
}

constexpr std::string_view kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: center; }
th.check, td.check { text-align: left; font-family: monospace; }
th.impl { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }
td.pass { background: #cfc; } td.fail { background: #f99; } td.warn { background: #fd8; }
td.skip { background: #ddd; } td.none { background: #fff; } td.flaky { background: #f9c; }
td a { color: inherit; text-decoration: none; display: block; }
td .ipv6 { font-size: .8em; vertical-align: super; margin-left: 1px; }
td.both a { display: inline; }
th .ipv6 { color: #555; }
details { margin: .5em 0; } summary { cursor: pointer; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }
pre.rerun, pre.by-hand { white-space: pre-wrap; overflow-wrap: anywhere; }
.env { color: #555; font-size: .9em; }
svg text { font: 11px system-ui, sans-serif; }
)";

const char* verdict_mark(Outcome::Verdict v) {
  switch (v) {
    case Outcome::Verdict::pass:
      return "&#10003;";  // check mark
    case Outcome::Verdict::fail:
      return "&#10007;";  // ballot x
    case Outcome::Verdict::warn:
      return "!";
    case Outcome::Verdict::skip:
      return "&ndash;";
    case Outcome::Verdict::flaky:
      return "~";
  }
  return "";
}

// For a cell that shows two verdicts: the worse one colours it, so a
// failure on ::1 reads as a failure, and a skip is not lost in a pass.
int severity(Outcome::Verdict v) {
  switch (v) {
    case Outcome::Verdict::pass:
      return 0;
    case Outcome::Verdict::skip:
      return 1;
    case Outcome::Verdict::warn:
      return 2;
    case Outcome::Verdict::flaky:
      return 3;
    case Outcome::Verdict::fail:
      return 4;
  }
  return 0;
}

// The tests of one check on one implementation: its own, and its copy's on
// ::1 (NAME@ipv6) when it has one; either may be missing.
struct MatrixCell {
  std::optional<std::size_t> own;   // index into Summary::tests
  std::optional<std::size_t> ipv6;  // likewise
};

std::string row_name(const Outcome& test) {
  return test.check_id.empty() ? test.check : test.check_id;
}

// Vertical bars, one per value, scaled to the largest: an inline SVG.
std::string bar_chart(const std::vector<std::pair<std::string, double>>& bars, double ceiling,
                      std::string_view unit) {
  constexpr int kWidth = 24;
  constexpr int kGap = 6;
  constexpr int kHeight = 120;
  const int width = static_cast<int>(bars.size()) * (kWidth + kGap) + kGap;
  std::string svg =
      fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">)",
                  width, kHeight + 40);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& [label, value] = bars[i];
    const int height = ceiling > 0 ? static_cast<int>(value / ceiling * kHeight) : 0;
    const int x = kGap + static_cast<int>(i) * (kWidth + kGap);
    svg += fmt::format(
        R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#69c"><title>{}: {} {}</title></rect>)",
        x, kHeight - height + 15, kWidth, height, xml_escaped(label), value, unit);
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", x + kWidth / 2,
                       kHeight - height + 12, value);
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)", x + kWidth / 2,
                       kHeight + 30, xml_escaped(label));
  }
  return svg + "</svg>";
}

// Horizontal bars, one per named value (a long name reads on its left).
std::string named_bar_chart(const std::vector<std::pair<std::string, double>>& bars, double ceiling,
                            std::string_view unit) {
  constexpr int kLabel = 220;
  constexpr int kLength = 360;
  constexpr int kRow = 22;
  std::string svg =
      fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img">)",
                  kLabel + kLength + 60, static_cast<int>(bars.size()) * kRow + 4);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& [label, value] = bars[i];
    const int length = ceiling > 0 ? static_cast<int>(value / ceiling * kLength) : 0;
    const int y = static_cast<int>(i) * kRow + 2;
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)", kLabel - 6, y + 14,
                       xml_escaped(label));
    svg += fmt::format(
        R"(<rect x="{}" y="{}" width="{}" height="16" fill="#69c"><title>{}: {} {}</title></rect>)",
        kLabel, y, length, xml_escaped(label), value, unit);
    svg += fmt::format(R"(<text x="{}" y="{}">{}</text>)", kLabel + length + 4, y + 14, value);
  }
  return svg + "</svg>";
}

void write_charts(const Summary& summary, std::ostream& out) {
  std::vector<std::pair<std::string, double>> wakeups;
  std::vector<std::pair<std::string, std::string>> distributions;
  for (const auto& test : summary.tests) {
    if (const auto w = test.figures.find("wakeups_per_connection"); w != test.figures.end())
      wakeups.emplace_back(test.implementation, std::stod(w->second));
    if (const auto d = test.figures.find("distribution");
        d != test.figures.end() && test.check == "Pool.EveryWorkerAccepts")
      distributions.emplace_back(test.implementation, d->second);
  }
  if (!wakeups.empty()) {
    double most = 0;
    for (const auto& [name, value] : wakeups) most = std::max(most, value);
    out << "<h2 id=\"wakeups\">Workers woken per accepted connection</h2>\n"
        << "<p>From /proc, while one client at a time connects: about 1 for a pool whose "
           "workers take turns at accept(), the whole pool for a thundering herd.</p>\n"
        << named_bar_chart(wakeups, most, "workers woken") << "\n";
  }
  if (!distributions.empty()) {
    out << "<h2 id=\"distribution\">Connections per worker</h2>\n"
        << "<p>Under load (Pool.EveryWorkerAccepts), seen from outside.</p>\n";
    for (const auto& [name, counts] : distributions) {
      std::vector<std::pair<std::string, double>> bars;
      std::istringstream in(counts);
      double count = 0;
      double most = 0;
      while (in >> count) {
        bars.emplace_back(fmt::format("{}", bars.size()), count);
        most = std::max(most, count);
      }
      out << fmt::format("<h3>{}</h3>\n", xml_escaped(name)) << bar_chart(bars, most, "connections")
          << "\n";
    }
  }
}

}  // namespace

void write_html(const Summary& summary, std::ostream& out) {
  // The matrix: checks of implementations by their IDs, in the order they
  // first ran, against the implementations, each one column with its copy on
  // ::1 (NAME@ipv6) folded in; the demos' tests (programs, not manifests) in
  // a list of their own below it.
  const std::vector<ImplementationRow> implementations = summary.rows();
  std::vector<std::string> rows;
  std::vector<std::size_t> demo_tests;
  std::map<std::string, std::map<std::string, MatrixCell>> cell;  // row -> column
  for (std::size_t i = 0; i < summary.tests.size(); ++i) {
    const Outcome& test = summary.tests[i];
    if (test.implementation == kDemos) {
      demo_tests.push_back(i);
      continue;
    }
    const std::string row = row_name(test);
    if (std::find(rows.begin(), rows.end(), row) == rows.end())
      rows.push_back(row);
    MatrixCell& tests = cell[row][std::string(row_of(test.implementation))];
    (is_ipv6_copy(test.implementation) ? tests.ipv6 : tests.own) = i;
  }
  // A verdict's cell: a failure, warning or skip links to its evidence below.
  const auto verdict_cell = [&](std::size_t index) {
    const Outcome& test = summary.tests[index];
    const char* mark = verdict_mark(test.verdict);
    if (test.verdict == Outcome::Verdict::pass)
      return fmt::format("<td class=\"pass\">{}</td>", mark);
    return fmt::format(R"(<td class="{}"><a href="#t{}" title="{}">{}</a></td>)",
                       to_string(test.verdict), index, xml_escaped(test.reason), mark);
  };
  // A cell with the verdict on ::1 as a second, raised mark, each mark
  // saying on hover where it ran and what came of it.
  const auto two_verdicts_cell = [&](const MatrixCell& tests) {
    std::string marks;
    std::optional<Outcome::Verdict> worst;
    for (const auto& [index, on_ipv6] :
         {std::pair{tests.own, false}, std::pair{tests.ipv6, true}}) {
      if (!index)
        continue;
      const Outcome& test = summary.tests[*index];
      if (!worst || severity(test.verdict) > severity(*worst))
        worst = test.verdict;
      const std::string title =
          fmt::format("on {} ({}): {}{}", on_ipv6 ? "::1" : "127.0.0.1", test.implementation,
                      to_string(test.verdict), test.reason.empty() ? "" : ": " + test.reason);
      const std::string mark = test.verdict == Outcome::Verdict::pass
                                   ? fmt::format(R"(<span title="{}">{}</span>)",
                                                 xml_escaped(title), verdict_mark(test.verdict))
                                   : fmt::format(R"(<a href="#t{}" title="{}">{}</a>)", *index,
                                                 xml_escaped(title), verdict_mark(test.verdict));
      marks += on_ipv6 ? fmt::format(R"(<span class="ipv6">{}</span>)", mark) : mark;
    }
    return fmt::format(R"(<td class="{} both">{}</td>)",
                       to_string(worst.value_or(Outcome::Verdict::pass)), marks);
  };
  const Tally total = summary.total();
  const bool with_demos = summary.by_implementation.contains(std::string(kDemos));
  const auto also_on_ipv6 =
      std::count_if(implementations.begin(), implementations.end(),
                    [](const ImplementationRow& r) { return r.on_ipv6.has_value(); });
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
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
  out << "</p>\n<h2>Verdicts</h2>\n";
  if (also_on_ipv6 > 0) {
    out << "<p>An implementation marked <q>+ ::1</q> ran the correctness checks a second time "
           "on ::1, as NAME@ipv6: its cell shows that verdict as a second, raised mark, and "
           "takes the colour of the worse of the two. Hover over a mark for its verdict.</p>\n";
  }
  out << "<table id=\"matrix\">\n<tr><th class=\"check\">check</th>";
  for (const auto& implementation : implementations) {
    if (implementation.name == kDemos)
      continue;
    if (implementation.on_ipv6) {
      out << fmt::format(R"(<th class="impl" title="{0}, and {0}{1} on ::1">)"
                         R"({0} <span class="ipv6">+ ::1</span></th>)",
                         xml_escaped(implementation.name), harness::kIpv6VariantSuffix);
    } else {
      out << fmt::format("<th class=\"impl\">{}</th>", xml_escaped(implementation.name));
    }
  }
  out << "</tr>\n";
  for (const auto& row : rows) {
    out << fmt::format("<tr><td class=\"check\">{}</td>", xml_escaped(row));
    for (const auto& implementation : implementations) {
      if (implementation.name == kDemos)
        continue;
      const auto found = cell[row].find(implementation.name);
      if (found == cell[row].end())
        out << "<td class=\"none\" title=\"does not apply\"></td>";
      else if (!found->second.ipv6)
        out << verdict_cell(*found->second.own);
      else
        out << two_verdicts_cell(found->second);
    }
    out << "</tr>\n";
  }
  out << "</table>\n";
  if (!demo_tests.empty()) {
    out << "<h2 id=\"demos\">The demos</h2>\n"
        << "<p>The programs of impl/demos (RST, SIGPIPE, the signal race, sendfile, TCP_CORK), "
           "each test a property of one demo.</p>\n<table id=\"demo-tests\">\n";
    for (const std::size_t i : demo_tests) {
      out << fmt::format("<tr><td class=\"check\">{}</td>{}</tr>\n",
                         xml_escaped(summary.tests[i].check), verdict_cell(i));
    }
    out << "</table>\n";
  }
  write_charts(summary, out);
  // Each failure's evidence, one click from its cell.
  out << "<h2>Failures, warnings and skips</h2>\n";
  for (std::size_t i = 0; i < summary.tests.size(); ++i) {
    const Outcome& test = summary.tests[i];
    if (test.verdict == Outcome::Verdict::pass)
      continue;
    out << fmt::format(
        "<details id=\"t{}\" class=\"{}\"{}><summary>{} {} <code>{}</code> ({}): {}</summary>\n", i,
        to_string(test.verdict), test.verdict == Outcome::Verdict::skip ? "" : " open",
        to_string(test.verdict), xml_escaped(test.implementation), xml_escaped(row_name(test)),
        xml_escaped(test.check), xml_escaped(test.reason));
    // What a person pastes into a shell, first: on a line of its own, whole.
    if (!test.reproduce.empty()) {
      out << "<p>rerun this check alone:</p>\n<pre class=\"rerun\">" << xml_escaped(test.reproduce)
          << "</pre>\n";
    }
    if (!test.by_hand.empty() && test.verdict != Outcome::Verdict::skip) {
      out << "<p>by hand, on a server you started on PORT:</p>\n<pre class=\"by-hand\">"
          << xml_escaped(test.by_hand) << "</pre>\n";
    }
    if (!test.details.empty())
      out << "<pre>" << xml_escaped(test.details) << "</pre>\n";
    // Links by name: report.html sits next to the evidence files in results/.
    const auto link = [](const std::string& file) {
      return fmt::format("<a href=\"{}\">{}</a>",
                         xml_escaped(std::filesystem::path(file).filename().string()),
                         xml_escaped(file));
    };
    if (!test.capture.empty()) {
      out << fmt::format("<p>capture: {} (open with Wireshark, or tcpdump -nr)</p>\n",
                         link(test.capture));
    }
    // The server's processes and output are short enough to show in place.
    for (const auto& [label, file] :
         {std::pair{"the server's processes at the failure", &test.process_tree},
          std::pair{"the server's output", &test.server_output}}) {
      if (file->empty())
        continue;
      out << fmt::format("<p>{}: {}</p>\n<pre>{}</pre>\n", label, link(*file),
                         xml_escaped(head_of_file(*file)));
    }
    out << "</details>\n";
  }
  out << "</body>\n</html>\n";
}

}  // namespace csd::report
