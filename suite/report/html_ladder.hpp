// A captured connection's story on report.html: the ladder diagram, drawn
// inline from the .pcap a check kept with csd_wire (suite/wire), and the
// transcript beside it, under a failure and in the demo gallery.
#pragma once

#include <string>

#include "summary.hpp"

namespace csd::report::html {

// The diagram (an inline <svg>) and the transcript (collapsed) of `test`'s
// capture; the transcript alone where only the .wire.txt is left; "" where
// it kept neither. Draws at most a few connections of a large capture: those
// with an RST, a retransmission or a zero window first.
std::string wire_story(const Outcome& test);

}  // namespace csd::report::html
