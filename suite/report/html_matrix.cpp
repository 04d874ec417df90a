// report.html's verdict matrix (html_matrix.hpp).
#include "html_matrix.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "html_nav.hpp"
#include "html_parts.hpp"
#include "manifest.hpp"
#include "observed_model.hpp"

namespace csd::report::html {

namespace {

// The tests of one check on one implementation: its own, and its copy's on
// ::1 (NAME@ipv6) when it has one; either may be missing.
struct MatrixCell {
  std::optional<std::size_t> own;   // index into Summary::tests
  std::optional<std::size_t> ipv6;  // likewise
};

// The matrix's rows (check IDs in the order they first ran) and cells (by
// row, then by implementation's column); the demos' tests are not in it.
struct Matrix {
  std::vector<std::string> rows;
  std::map<std::string, std::map<std::string, MatrixCell>> cells;
  std::map<std::string, std::pair<std::string, std::string>> closes;  // column -> own, on ::1
  std::string close_check;  // the check whose capture says how it closed
};

Matrix matrix_of(const Summary& summary) {
  Matrix m;
  for (std::size_t i = 0; i < summary.tests.size(); ++i) {
    const Outcome& test = summary.tests[i];
    if (test.implementation == kDemos)
      continue;
    const std::string row = row_name(test);
    if (std::ranges::find(m.rows, row) == m.rows.end())
      m.rows.push_back(row);
    const bool on_ipv6 = is_ipv6_copy(test.implementation);
    const std::string column(row_of(test.implementation));
    MatrixCell& tests = m.cells[row][column];
    (on_ipv6 ? tests.ipv6 : tests.own) = i;
    if (const auto close = test.figures.find("close"); close != test.figures.end()) {
      auto& [own, ipv6] = m.closes[column];
      (on_ipv6 ? ipv6 : own) = close->second;
      m.close_check = row;
    }
  }
  return m;
}

// A cell's opening tag: its id and classes (its verdict's, which the filter reads).
std::string open_cell(std::string_view id, std::string_view classes) {
  return fmt::format(R"(<td id="{}" class="{}">)", xml_escaped(id), classes);
}
// The link to the cell itself, on its time (or its close), and the cell's end.
std::string permalink(std::string_view id, std::string_view text) {
  return fmt::format(R"(<a class="time" href="#{}" title="this cell's link">{}</a></td>)",
                     xml_escaped(id), text);
}

// One verdict: a failure, warning or skip links to its evidence below.
std::string verdict_cell(const Summary& summary, std::size_t index, std::string_view id) {
  const Outcome& test = summary.tests[index];
  const char* mark = verdict_mark(test.verdict);
  const std::string shown = test.verdict == Outcome::Verdict::pass
                                ? fmt::format(R"(<span class="mark">{}</span>)", mark)
                                : fmt::format(R"(<a class="mark" href="#t{}" title="{}">{}</a>)",
                                              index, xml_escaped(test.reason), mark);
  return open_cell(id, to_string(test.verdict)) + shown + permalink(id, time_text(test.seconds));
}

// A cell with the verdict on ::1 as a second, raised mark, each mark saying
// on hover where it ran and what came of it; the worse verdict colours it.
std::string two_verdicts_cell(const Summary& summary, const MatrixCell& tests,
                              std::string_view id) {
  std::string marks;
  std::optional<Outcome::Verdict> worst;
  double seconds = 0;
  for (const auto& [index, on_ipv6] : {std::pair{tests.own, false}, std::pair{tests.ipv6, true}}) {
    if (!index)
      continue;
    const Outcome& test = summary.tests[*index];
    seconds += test.seconds;
    if (!worst || severity(test.verdict) > severity(*worst))
      worst = test.verdict;
    const std::string title =
        fmt::format("on {} ({}): {}{}", on_ipv6 ? "::1" : "127.0.0.1", test.implementation,
                    to_string(test.verdict), test.reason.empty() ? "" : ": " + test.reason);
    const std::string mark = test.verdict == Outcome::Verdict::pass
                                 ? fmt::format(R"(<span title="{}">{}</span>)", xml_escaped(title),
                                               verdict_mark(test.verdict))
                                 : fmt::format(R"(<a href="#t{}" title="{}">{}</a>)", *index,
                                               xml_escaped(title), verdict_mark(test.verdict));
    marks += on_ipv6 ? fmt::format(R"(<span class="ipv6">{}</span>)", mark) : mark;
  }
  const std::string classes =
      fmt::format("{} both", to_string(worst.value_or(Outcome::Verdict::pass)));
  return open_cell(id, classes) + fmt::format(R"(<span class="mark">{}</span>)", marks) +
         permalink(id, time_text(seconds));
}

// The row's header: the check's ID, its level and statement on hover.
std::string check_cell(const Summary& summary, const Matrix& m, const std::string& row) {
  const MatrixCell& first = m.cells.at(row).begin()->second;  // a row has a cell
  const Outcome& test = summary.tests[first.own.value_or(first.ipv6.value_or(0))];
  std::string title = test.level.empty() ? row : test.level + ": " + row;
  if (test.check != row)
    title += " (" + test.check + ")";
  if (!test.statement.empty())
    title += "\n" + test.statement;
  return fmt::format(R"(<td class="check {}" title="{}">{}</td>)", xml_escaped(test.level),
                     xml_escaped(title), xml_escaped(row));
}

// The close row's cell: "FIN", "RST", "FIN, then RST" or "none", and the
// close on ::1 as a raised second word where it differs; an RST on either
// colours it as a failure.
std::string close_cell(const std::pair<std::string, std::string>& closes, std::string_view id) {
  const auto& [own, ipv6] = closes;
  const auto kind = [](const std::string& close) -> std::string_view {
    return close.find("RST") != std::string::npos ? "rst" : close == "FIN" ? "fin" : "none";
  };
  std::string_view shown = kind(own.empty() ? ipv6 : own);
  if (!ipv6.empty() && kind(ipv6) == "rst")
    shown = "rst";
  std::string text = own.empty() ? "&ndash;" : xml_escaped(own);
  if (!ipv6.empty() && ipv6 != own)
    text += fmt::format(R"(<span class="ipv6" title="on ::1">{}</span>)", xml_escaped(ipv6));
  return open_cell(id, fmt::format("close close-{}", shown)) + permalink(id, text);
}

// The observed model under an implementation's name, and on hover what was
// seen: "auto: prefork" and "observed prefork: a pool of 4 processes, ...".
std::pair<std::string, std::string> observed_label(const ObservedModel& observed) {
  const std::string label =
      observed.declared == "auto" ? "auto: " + observed.model
      : observed.declared.empty() || observed.declared == observed.model
          ? observed.model
          : fmt::format("declared {}, observed {}", observed.declared, observed.model);
  std::string hover = fmt::format("observed {}: {}", observed.model, observed.words);
  if (!observed.declared.empty())
    hover += fmt::format(" (declared {})", observed.declared);
  return {label, hover};
}

}  // namespace

std::string cell_id(std::string_view implementation, std::string_view row) {
  std::string id = fmt::format("cell-{}-{}", implementation, row);
  for (char& c : id) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 &&
        std::string_view("-_./@").find(c) == std::string_view::npos)
      c = '_';
  }
  return id;
}

void write_matrix(const Summary& summary, std::ostream& out) {
  const Matrix m = matrix_of(summary);
  std::vector<ImplementationRow> columns = summary.rows();
  std::erase_if(columns, [](const ImplementationRow& r) { return r.name == kDemos; });
  out << kFilterLinks << "<div class=\"matrix-wrap\">\n<table id=\"matrix\">\n<thead><tr>"
      << "<th class=\"check\">check</th>";
  const auto observed = observed_models(summary);
  for (const auto& column : columns) {
    const std::string name = xml_escaped(column.name);
    std::string title = column.on_ipv6 ? fmt::format("{0}, and {0}{1} on ::1", column.name,
                                                     harness::kIpv6VariantSuffix)
                                       : std::string();
    std::string shown = name;
    if (column.on_ipv6)
      shown += R"( <span class="ipv6">+ ::1</span>)";
    if (const auto found = observed.find(column.name); found != observed.end()) {
      const auto [label, hover] = observed_label(found->second);
      const bool news = !observed_model_note(found->second).empty();
      shown += fmt::format(R"(<br><span class="observed{}">{}</span>)", news ? " news" : "",
                           xml_escaped(label));
      title += (title.empty() ? column.name : "") + "\n" + hover;
    }
    out << fmt::format(R"(<th class="impl" data-impl="{}"{}>{}</th>)", name,
                       title.empty() ? "" : fmt::format(R"( title="{}")", xml_escaped(title)),
                       shown);
  }
  out << "</tr></thead>\n<tbody>\n";
  for (const auto& row : m.rows) {
    out << fmt::format(R"(<tr data-check="{}">)", xml_escaped(row)) << check_cell(summary, m, row);
    for (const auto& column : columns) {
      const std::string id = cell_id(column.name, row);
      const auto found = m.cells.at(row).find(column.name);
      if (found == m.cells.at(row).end())
        out << fmt::format(R"(<td id="{}" class="none" title="does not apply"></td>)",
                           xml_escaped(id));
      else if (!found->second.ipv6)
        out << verdict_cell(summary, *found->second.own, id);
      else
        out << two_verdicts_cell(summary, found->second, id);
    }
    out << "</tr>\n";
  }
  if (!m.closes.empty()) {
    out << fmt::format(
        R"(<tr data-check="close" class="close"><td class="check" title="How the server's side )"
        R"(of {}'s connection ended, as captured: FIN, RST, FIN then RST, or none seen">)"
        R"(close: how it closed</td>)",
        xml_escaped(m.close_check));
    for (const auto& column : columns) {
      const std::string id = cell_id(column.name, "close");
      const auto found = m.closes.find(column.name);
      out << (found == m.closes.end()
                  ? fmt::format(R"(<td id="{}" class="none"></td>)", xml_escaped(id))
                  : close_cell(found->second, id));
    }
    out << "</tr>\n";
  }
  out << "</tbody>\n</table>\n</div>\n" << kMatrixScript;
}

}  // namespace csd::report::html
