// csd-bench's Figure 30.1 and its page (bench_figure.hpp).
#include "bench_figure.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

#include "charts.hpp"
#include "xml_text.hpp"

namespace csd::report {

using harness::xml_escaped;

namespace {

using nlohmann::json;

// One chart of a load point's row: a figure of each design's summary.
struct Panel {
  const char* title;
  const char* unit;
  int decimals;
  std::string_view colour;
  double (*value)(const json& row);  // NaN where the row has none
};

// The number at `pointer` in a summary row, NaN where it has none (a figure
// a run could not measure is null).
double number_at(const json& row, const char* pointer) {
  const json::json_pointer at(pointer);
  return row.contains(at) && row[at].is_number() ? row[at].get<double>()
                                                 : std::numeric_limits<double>::quiet_NaN();
}

const std::array kPanels{
    Panel{"overhead, µs of server CPU per connection", "µs per connection", 1, "#c63",
          [](const json& row) { return number_at(row, "/overhead_us_per_conn"); }},
    Panel{"connections per second", "conn/s", 0, "#69c",
          [](const json& row) { return number_at(row, "/median/conns_per_s"); }},
    Panel{"p99 latency, µs", "µs", 0, "#999",
          [](const json& row) { return number_at(row, "/median/latency_p99_us"); }},
};

constexpr int kNamesWidth = 190;
constexpr int kBarsLength = 200;
constexpr int kPanelGap = 16;
constexpr int kTitleHeight = 26;
constexpr int kPanelTitleHeight = 18;
constexpr int kPointGap = 20;

std::string point_title(const json& point) {
  const int clients = point.value("clients", 0);
  return fmt::format("{} client{} × {} conns × {} bytes", clients, clients == 1 ? "" : "s",
                     point.value("conns", 0), point.value("bytes", uint64_t{0}));
}

}  // namespace

std::string bench_figure_svg(const json& document) {
  const json& points = document.value("points", json::array());
  const json& summary = document.value("summary", json::array());
  std::string body;
  int width = 0;
  int top = 0;
  for (std::size_t p = 0; p < points.size(); ++p) {
    body += fmt::format(R"(<text x="0" y="{}" font-size="14" font-weight="bold">{}</text>)",
                        top + 16, xml_escaped(point_title(points[p])));
    top += kTitleHeight;
    int left = 0;
    int height = 0;
    for (std::size_t k = 0; k < kPanels.size(); ++k) {
      const Panel& panel = kPanels[k];
      std::vector<Bar> bars;
      for (const json& row : summary) {
        const double value = panel.value(row);
        if (row.value("point", std::size_t{0}) == p && !std::isnan(value)) {
          const std::string name = row.value("design", std::string("?"));
          bars.push_back({row.value("baseline", false) ? name + " (baseline)" : name, value});
        }
      }
      const Chart chart = row_chart(bars, {.unit = panel.unit,
                                           .decimals = panel.decimals,
                                           .label_width = k == 0 ? kNamesWidth : 0,
                                           .length = kBarsLength,
                                           .colour = panel.colour});
      body += fmt::format(R"(<text x="{}" y="{}">{}</text>)", left + (k == 0 ? kNamesWidth : 0),
                          top + 12, xml_escaped(panel.title));
      body += placed(chart, left, top + kPanelTitleHeight);
      left += chart.width + kPanelGap;
      height = std::max(height, chart.height);
    }
    width = std::max(width, left);
    top += kPanelTitleHeight + height + kPointGap;
  }
  if (points.empty()) {
    body = R"(<text x="0" y="16">no load point</text>)";
    top = 24;
    width = 200;
  }
  return fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
      R"(font-family="system-ui, sans-serif" font-size="11" role="img">)"
      "\n<title>csd-bench: UNP Figure 30.1 on this machine: per design, the server's CPU per "
      "connection over the iterative baseline's, conn/s and p99 latency</title>\n"
      R"(<rect width="{0}" height="{1}" fill="#fff"/>)"
      "\n{2}\n</svg>\n",
      width, top, body);
}

void write_bench_html(const json& document, std::string_view tables, std::ostream& out) {
  out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      << "<title>csd-bench: UNP Figure 30.1</title>\n<style>\n"
      << "body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }\n"
      << "pre { background: #f6f6f6; padding: .5em; overflow-x: auto; }\n"
      << ".facts { color: #555; }\n</style>\n</head>\n<body>\n"
      << "<h1>csd-bench: UNP Figure 30.1 on this machine</h1>\n<p class=\"facts\">";
  const json& machine = document.value("machine", json::object());
  for (const auto& [key, value] : machine.items()) {
    out << fmt::format("{}: {}<br>", xml_escaped(key),
                       xml_escaped(value.is_string() ? value.get<std::string>() : value.dump()));
  }
  if (document.contains("command") && document["command"].is_array()) {
    std::string command;
    for (const auto& word : document["command"])
      command += (command.empty() ? "" : " ") + word.get<std::string>();
    out << fmt::format("command: <code>{}</code>", xml_escaped(command));
  }
  out << "</p>\n<p>Per design, under each load: the server's CPU per connection beyond the "
         "iterative baseline's (what the design itself costs: a fork, a thread, a lock, a "
         "herd woken), its connections per second and its 99th percentile latency; medians "
         "over the repetitions. Hover over a bar for its value.</p>\n<figure>\n"
      << bench_figure_svg(document) << "</figure>\n<h2>The tables</h2>\n<pre>"
      << xml_escaped(tables) << "</pre>\n</body>\n</html>\n";
}

}  // namespace csd::report
