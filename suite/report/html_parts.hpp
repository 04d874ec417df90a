// What the writers of report.html share (html.cpp, html_matrix.cpp,
// html_ladder.cpp, html_gallery.cpp): a verdict's mark, a
// check's row name, a time as a cell shows it, an evidence file's start.
#pragma once

#include <string>

#include "summary.hpp"
#include "xml_text.hpp"

namespace csd::report::html {

using harness::xml_escaped;

// "&#10003;" for a pass, "&#10007;" for a failure, "!", "&ndash;", "~".
const char* verdict_mark(Outcome::Verdict verdict);

// A check's row in the matrix: its ID, or its name where it has none.
std::string row_name(const Outcome& test);

// "0.5s", "12.3s", "123s": a test's time in a cell.
std::string time_text(double seconds);

// The start of an evidence file, for the page itself: a server that floods
// its output must not make a page no browser opens.
std::string head_of_file(const std::string& file);

// The link to an evidence file by its name alone: report.html sits next to
// the evidence files in results/.
std::string evidence_link(const std::string& file);

}  // namespace csd::report::html
