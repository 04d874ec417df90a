// Bar charts as SVG (charts.hpp).
#include "charts.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "xml_text.hpp"

namespace csd::report {

using harness::xml_escaped;

namespace {

std::string value_text(double value, int decimals) {
  return decimals < 0 ? fmt::format("{}", value) : fmt::format("{:.{}f}", value, decimals);
}

std::string svg_open(int width, int height) {
  return fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" )"
                     R"(font-family="system-ui, sans-serif" font-size="11" role="img">)",
                     width, height);
}

}  // namespace

Chart column_chart(const std::vector<Bar>& bars, double ceiling, std::string_view unit) {
  constexpr int kWidth = 24;
  constexpr int kGap = 6;
  constexpr int kHeight = 120;
  Chart chart;
  chart.width = static_cast<int>(bars.size()) * (kWidth + kGap) + kGap;
  chart.height = kHeight + 40;
  chart.svg = svg_open(chart.width, chart.height);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& [label, value] = bars[i];
    const int height = ceiling > 0 ? static_cast<int>(value / ceiling * kHeight) : 0;
    const int x = kGap + static_cast<int>(i) * (kWidth + kGap);
    chart.svg += fmt::format(
        R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#69c"><title>{}: {} {}</title></rect>)",
        x, kHeight - height + 15, kWidth, height, xml_escaped(label), value, xml_escaped(unit));
    chart.svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)",
                             x + kWidth / 2, kHeight - height + 12, value);
    chart.svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle">{}</text>)",
                             x + kWidth / 2, kHeight + 30, xml_escaped(label));
  }
  chart.svg += "</svg>";
  return chart;
}

Chart row_chart(const std::vector<Bar>& bars, const RowChartStyle& style) {
  constexpr int kRow = 22;
  constexpr int kValueRoom = 70;  // right of the longest bar, for its value
  double least = 0;
  double most = 0;
  for (const Bar& bar : bars) {
    least = std::min(least, bar.value);
    most = std::max(most, bar.value);
  }
  const double span = most - least;
  const auto x_of = [&](double value) {
    return style.label_width +
           (span > 0 ? static_cast<int>((value - least) / span * style.length) : 0);
  };
  const int zero = x_of(0);
  Chart chart;
  chart.width = style.label_width + style.length + kValueRoom;
  chart.height = static_cast<int>(bars.size()) * kRow + 4;
  chart.svg = svg_open(chart.width, chart.height);
  if (least < 0) {
    chart.svg += fmt::format(R"(<line x1="{0}" y1="0" x2="{0}" y2="{1}" stroke="#999"/>)", zero,
                             chart.height);
  }
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& [label, value] = bars[i];
    const int y = static_cast<int>(i) * kRow + 2;
    const int left = std::min(zero, x_of(value));
    const int right = std::max(zero, x_of(value));
    const std::string shown = value_text(value, style.decimals);
    if (style.label_width > 0) {
      chart.svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="end">{}</text>)",
                               style.label_width - 6, y + 14, xml_escaped(label));
    }
    chart.svg += fmt::format(
        R"(<rect x="{}" y="{}" width="{}" height="16" fill="{}"><title>{}: {} {}</title></rect>)",
        left, y, right - left, style.colour, xml_escaped(label), shown, xml_escaped(style.unit));
    chart.svg +=
        fmt::format(R"(<text x="{}" y="{}">{}</text>)", std::max(right, zero) + 4, y + 14, shown);
  }
  chart.svg += "</svg>";
  return chart;
}

std::string placed(const Chart& chart, int x, int y) {
  std::string svg = chart.svg;
  svg.insert(std::string_view("<svg ").size(), fmt::format(R"(x="{}" y="{}" )", x, y));
  return svg;
}

}  // namespace csd::report
