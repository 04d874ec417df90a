// csd-bench's Figure 30.1 (suite/report/bench_figure.hpp) from a document
// made by hand, every value known. Verify: one bar per design in each chart,
// its value on hover, bars scaled to the largest, a negative overhead drawn
// left of the zero line, and a row of charts per load point.
#include "bench_figure.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>

namespace csd::report {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json row(const std::string& design, std::size_t point, double overhead, double conns, double p99) {
  return {{"design", design},
          {"baseline", design == "csd-citerative"},
          {"point", point},
          {"overhead_us_per_conn", overhead},
          {"median", {{"conns_per_s", conns}, {"latency_p99_us", p99}}}};
}

json document() {
  return {{"points",
           {{{"clients", 5}, {"conns", 400}, {"bytes", 4000}},
            {{"clients", 1}, {"conns", 200}, {"bytes", 100}}}},
          {"summary",
           {row("csd-citerative", 0, 0, 10000, 500), row("csd-fork", 0, 80, 4000, 900),
            row("csd-prefork", 0, -2, 11000, 450), row("csd-citerative", 1, 0, 9000, 100)}}};
}

// The x and width of the bar whose hover text is `title`.
std::pair<int, int> bar(const std::string& svg, const std::string& title) {
  const std::regex rect(R"re(<rect x="(-?\d+)" y="\d+" width="(\d+)" height="16" )re"
                        R"re(fill="[^"]+"><title>)re" +
                        title + "</title>");
  std::smatch found;
  if (!std::regex_search(svg, found, rect)) {
    ADD_FAILURE() << "no bar with the title " << title;
    return {0, 0};
  }
  return {std::stoi(found[1]), std::stoi(found[2])};
}

TEST(BenchFigure, ABarPerDesignScaledToTheLargest) {
  const std::string svg = bench_figure_svg(document());
  EXPECT_THAT(svg, HasSubstr("5 clients × 400 conns × 4000 bytes"));
  EXPECT_THAT(svg, HasSubstr("1 client × 200 conns × 100 bytes"));
  const auto [fork_x, fork_width] = bar(svg, "csd-fork: 80.0 µs per connection");
  const auto [prefork_x, prefork_width] = bar(svg, "csd-prefork: -2.0 µs per connection");
  const auto [base_x, base_width] =
      bar(svg, "csd-citerative \\(baseline\\): 0.0 µs per connection");
  // From -2 to 80 over 200 pixels: the zero line 4 or 5 pixels in, the
  // prefork's bar left of it, the fork's from it to the end.
  EXPECT_EQ(base_width, 0);
  EXPECT_EQ(prefork_x + prefork_width, base_x);
  EXPECT_GT(prefork_width, 0);
  EXPECT_EQ(fork_x, base_x);
  EXPECT_EQ(fork_x + fork_width, prefork_x + 200);
  // conn/s: the prefork's the longest, the fork's 4000/11000 of it.
  EXPECT_EQ(bar(svg, "csd-prefork: 11000 conn/s").second, 200);
  EXPECT_EQ(bar(svg, "csd-fork: 4000 conn/s").second, 72);
  EXPECT_EQ(bar(svg, "csd-fork: 900 µs").second, 200);
}

TEST(BenchFigure, ThePageHasTheFigureAndTheTables) {
  std::ostringstream page;
  write_bench_html(document(), "design  overhead\n", page);
  EXPECT_THAT(page.str(), HasSubstr("<figure>\n<svg"));
  EXPECT_THAT(page.str(), HasSubstr("<pre>design  overhead\n</pre>"));
}

}  // namespace
}  // namespace csd::report
