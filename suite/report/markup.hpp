// Text made safe as XML or HTML character data and attribute values, for
// junit.cpp and html.cpp alike. Control characters XML 1.0 forbids (a
// server's output may hold any byte) become '?'.
#pragma once

#include <string>
#include <string_view>

namespace csd::report {

inline std::string escaped(std::string_view text) {
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
        const auto byte = static_cast<unsigned char>(c);
        out += byte < 0x20 && c != '\n' && c != '\t' && c != '\r' ? '?' : c;
      }
    }
  }
  return out;
}

}  // namespace csd::report
