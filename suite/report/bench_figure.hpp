// csd-bench's figures, drawn from its JSON document (suite/bench's "summary"
// rows): Stevens' Figure 30.1, the server's CPU per connection over the
// iterative baseline's, per design, with conn/s and p99 latency beside it,
// one row of three bar charts per load point. For csd-bench --svg and --html
// (and the figure in docs/BENCHMARKS.md); here, beside the report's charts,
// so that one chart module draws both.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>
#include <string_view>

namespace csd::report {

// One standalone SVG document.
std::string bench_figure_svg(const nlohmann::json& document);

// One standalone HTML page: the machine's facts, the figure inline, and
// `tables` (csd-bench's text tables) below it. No script, no external file.
void write_bench_html(const nlohmann::json& document, std::string_view tables, std::ostream& out);

}  // namespace csd::report
