// Text made safe as XML or HTML character data and attribute values, for the
// report's JUnit XML and HTML page and for the wire's SVG diagrams alike.
// Control characters XML 1.0 forbids (a server's output may hold any byte)
// become '?'. An apostrophe stays itself (a rerun line's shell quotes read as
// they are pasted): every attribute written with this is in double quotes.
#pragma once

#include <string>
#include <string_view>

namespace csd::harness {

inline std::string xml_escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default: {
        // XML 1.0 allows no control character but tab, newline and return.
        const auto byte = static_cast<unsigned char>(c);
        out += byte < 0x20 && c != '\n' && c != '\t' && c != '\r' ? '?' : c;
      }
    }
  }
  return out;
}

}  // namespace csd::harness
