#include "grade_outputs.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <string_view>
#include <vector>

#include "xml_text.hpp"

namespace csd::report {

using harness::xml_escaped;

namespace {

// "2", "0.5", "1.25": points as a person writes them.
std::string points(double value) { return fmt::format("{:g}", value); }

// The graded checks' names over every submission, in the order first met:
// the class's columns.
std::vector<std::string> columns(std::span<const GradedSubmission> submissions) {
  std::vector<std::string> names;
  for (const auto& submission : submissions) {
    for (const auto& check : submission.checks) {
      if (std::ranges::find(names, check.name) == names.end())
        names.push_back(check.name);
    }
  }
  return names;
}

const GradedCheck* find_check(const GradedSubmission& submission, std::string_view name) {
  const auto it = std::ranges::find(submission.checks, name, &GradedCheck::name);
  return it == submission.checks.end() ? nullptr : &*it;
}

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos)
    return std::string(text);
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// A submission's folder: its name with anything but letters, digits, '.',
// '-' and '_' made '_' (a manifest's name may be any string), never . or ..
std::string folder_of(std::string_view name) {
  std::string folder;
  for (const char c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '.' || c == '-' || c == '_';
    folder += plain ? c : '_';
  }
  return folder.find_first_not_of('.') == std::string::npos ? "_" + folder : folder;
}

// "processes (5 checks), time (1 check)": the limits that stopped the
// submission's server; "" if none did.
std::string stops_text(const GradedSubmission& submission) {
  std::string text;
  for (const auto& stop : submission.stopped_by)
    text += fmt::format("{}{} ({} check{})", text.empty() ? "" : ", ", stop.limit, stop.checks,
                        stop.checks == 1 ? "" : "s");
  return text;
}

constexpr std::string_view kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: center; }
th.check { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal;
  font-family: monospace; }
td.name { text-align: left; } td.total { font-weight: bold; }
td.pass { background: #cfc; } td.fail, td.flaky { background: #f99; } td.warn { background: #fd8; }
td.skip { background: #ddd; } td.none { background: #fff; }
)";

}  // namespace

nlohmann::json gradescope_results(const GradedSubmission& submission, const Rubric& rubric) {
  nlohmann::json tests = nlohmann::json::array();
  for (const auto& check : submission.checks) {
    const bool passed = check.verdict == Outcome::Verdict::pass ||
                        (check.verdict == Outcome::Verdict::skip && rubric.skipped_earn_full);
    tests.push_back({{"name", check.name},
                     {"score", check.score},
                     {"max_score", check.max_score},
                     {"status", passed ? "passed" : "failed"},
                     {"output", check.output},
                     {"visibility", rubric.visibility}});
  }
  std::string output =
      fmt::format("{}: {} of {} points (csd-report --grade {})", submission.name,
                  points(submission.score), points(submission.max_score), rubric.file);
  for (const auto& stop : submission.stopped_by)
    output += fmt::format("\nstopped by a limit, {}, in {} check(s); the first: {}", stop.limit,
                          stop.checks, stop.first);
  return {{"score", submission.score},
          {"max_score", submission.max_score},
          {"output", output},
          {"visibility", rubric.visibility},
          {"tests", tests}};
}

void write_class_csv(std::span<const GradedSubmission> submissions, std::ostream& out) {
  const auto names = columns(submissions);
  out << "submission,score,max_score";
  for (const auto& name : names) out << ',' << csv_field(name);
  out << ",stopped_by\n";
  for (const auto& submission : submissions) {
    out << csv_field(submission.name) << ',' << points(submission.score) << ','
        << points(submission.max_score);
    for (const auto& name : names) {
      const GradedCheck* check = find_check(submission, name);
      out << ',' << (check ? points(check->score) : "");
    }
    out << ',' << csv_field(stops_text(submission)) << "\n";
  }
}

std::string class_page(std::span<const GradedSubmission> submissions, const Rubric& rubric) {
  const auto names = columns(submissions);
  std::string page = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>csd grades</title>\n<style>{}</style>\n</head>\n<body>\n<h1>csd grades</h1>\n"
      "<p>{} submission(s), graded with {}: a warning earns {:g} of a check's points.</p>\n"
      "<table id=\"grades\">\n<tr><th>submission</th><th>score</th>",
      kStyle, submissions.size(), xml_escaped(rubric.file), rubric.warning_share);
  for (const auto& name : names)
    page += fmt::format("<th class=\"check\">{}</th>", xml_escaped(name));
  page += "<th>stopped by a limit</th></tr>\n";
  for (const auto& submission : submissions) {
    page += fmt::format(
        "<tr id=\"{0}\"><td class=\"name\">{0}</td><td class=\"total\">{1} / {2}"
        "</td>",
        xml_escaped(submission.name), points(submission.score), points(submission.max_score));
    for (const auto& name : names) {
      const GradedCheck* check = find_check(submission, name);
      if (!check) {
        page += "<td class=\"none\" title=\"not run\"></td>";
        continue;
      }
      page += fmt::format("<td class=\"{}\" title=\"{}\">{}</td>", to_string(check->verdict),
                          xml_escaped(check->output.empty() ? "passed" : check->output),
                          points(check->score));
    }
    std::string stops;  // each limit with its first words on hover
    for (const auto& stop : submission.stopped_by)
      stops += fmt::format("{}<span title=\"{}\">{} ({})</span>", stops.empty() ? "" : ", ",
                           xml_escaped(stop.first), xml_escaped(stop.limit), stop.checks);
    page += fmt::format("<td class=\"name\">{}</td></tr>\n", stops);
  }
  return page + "</table>\n</body>\n</html>\n";
}

void print_grades(std::span<const GradedSubmission> submissions, std::ostream& out) {
  std::size_t width = 10;
  for (const auto& submission : submissions) width = std::max(width, submission.name.size());
  out << fmt::format("{:<{}}  {:>7}  {:>7}  {:<9}  stopped by a limit\n", "SUBMISSION", width,
                     "SCORE", "MAX", "passed");
  for (const auto& submission : submissions) {
    const auto passed =
        std::ranges::count(submission.checks, Outcome::Verdict::pass, &GradedCheck::verdict);
    const std::string tally = fmt::format("{} of {}", passed, submission.checks.size());
    std::string line = fmt::format("{:<{}}  {:>7}  {:>7}  {:<9}  {}", submission.name, width,
                                   points(submission.score), points(submission.max_score), tally,
                                   stops_text(submission));
    line.erase(line.find_last_not_of(' ') + 1);  // no limit stopped it: no trailing blanks
    out << line << "\n";
  }
}

bool write_grades(std::span<const GradedSubmission> submissions, const Rubric& rubric,
                  const std::filesystem::path& dir) {
  bool written = true;
  const auto write = [&](const std::filesystem::path& file, const auto& writer) {
    std::error_code error;
    std::filesystem::create_directories(file.parent_path(), error);
    std::ofstream out(file);
    writer(out);
    if (!out.flush()) {
      std::cerr << "csd-report: cannot write " << file.string() << "\n";
      written = false;
    }
  };
  for (const auto& submission : submissions) {
    write(dir / folder_of(submission.name) / "results.json", [&](std::ostream& out) {
      out << gradescope_results(submission, rubric).dump(2) << "\n";
    });
  }
  write(dir / "class.csv", [&](std::ostream& out) { write_class_csv(submissions, out); });
  write(dir / "class.html", [&](std::ostream& out) { out << class_page(submissions, rubric); });
  return written;
}

}  // namespace csd::report
