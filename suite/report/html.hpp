// The summary as one self-contained HTML page, report.html: a verdict
// matrix (checks x implementations, in the manner of the Autobahn test
// suite's report), each failure's evidence (its whole message, the .pcap)
// one click from its cell, and the distribution and wake-up figures as
// inline SVG bar charts. No script, no external file: it opens anywhere.
#pragma once

#include <ostream>

#include "summary.hpp"

namespace csd::report {

void write_html(const Summary& summary, std::ostream& out);

}  // namespace csd::report
