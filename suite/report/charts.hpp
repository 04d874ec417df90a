// Bar charts as SVG, for report.html's figures (wake-ups, connections per
// worker) and csd-bench's Figure 30.1 (bench_figure.hpp): no script, no
// external style, each bar saying its value on hover.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace csd::report {

struct Bar {
  std::string label;
  double value = 0;
};

// An <svg> element and its size, to put inline or nest in a larger one (placed).
struct Chart {
  std::string svg;
  int width = 0;
  int height = 0;
};

// Vertical bars, one per value, scaled to `ceiling`, each labelled below.
Chart column_chart(const std::vector<Bar>& bars, double ceiling, std::string_view unit);

struct RowChartStyle {
  std::string_view unit;  // on hover: "3.35 workers woken"
  int decimals = -1;      // of the value written beside a bar; -1: as it comes
  int label_width = 220;  // the names' column, left of the bars; 0: no names
  int length = 360;       // the longest bar's
  std::string_view colour = "#69c";
};

// Horizontal bars, one per named value, the name on the left; the scale
// runs from the least of 0 and the values to the greatest, so a negative
// value (a design cheaper than the baseline, by noise) goes left of a zero line.
Chart row_chart(const std::vector<Bar>& bars, const RowChartStyle& style);

// `chart` at (x, y) inside a larger SVG.
std::string placed(const Chart& chart, int x, int y);

}  // namespace csd::report
