// report.html's verdict matrix: checks by implementations, each cell its
// verdict (and its verdict on ::1), its time and a permalink
// (id="cell-IMPL-CHECK"); under each implementation's name the design it
// showed when watched (observed_model.hpp), what was seen on hover; a
// check's statement and level on hover; a row of
// how each implementation closed (close/fin-not-rst's capture: FIN, RST,
// none); and a few lines of inline script that read filters and an order
// from the page's URL (html_nav.hpp).
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "summary.hpp"

namespace csd::report::html {

void write_matrix(const Summary& summary, std::ostream& out);

// "cell-my-server-size/split-request": the id of a cell, which a CI log can
// link to as report.html#cell-...; characters an id or a URL's fragment
// would not keep as they are become '_'.
std::string cell_id(std::string_view implementation, std::string_view row);

}  // namespace csd::report::html
