// report.html's demo gallery (section id "demo-gallery"): what the seed
// teaches, from the run's demo tests (kDemos), family by family: a paragraph
// of what to watch, and per test its ladder diagram (a demo keeps its
// capture, pass or fail), the program's own output and its verdict.
#pragma once

#include <ostream>

#include "summary.hpp"

namespace csd::report::html {

// Writes nothing when the run had no demo tests.
void write_demo_gallery(const Summary& summary, std::ostream& out);

}  // namespace csd::report::html
