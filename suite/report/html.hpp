// The summary as one self-contained HTML page, report.html: a verdict
// matrix (checks x implementations, in the manner of the Autobahn test
// suite's report; each cell's time and permalink, how each implementation
// closed, filters read from the URL), the demo gallery, the distribution and
// wake-up figures as inline SVG bar charts, and each failure's evidence (its
// whole message, its capture drawn as a ladder diagram) one click from its
// cell. A few lines of inline script, no external file: it opens anywhere,
// offline.
#pragma once

#include <ostream>

#include "summary.hpp"

namespace csd::report {

void write_html(const Summary& summary, std::ostream& out);

}  // namespace csd::report
