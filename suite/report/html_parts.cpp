// The helpers report.html's writers share (html_parts.hpp).
#include "html_parts.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

namespace csd::report::html {

const char* verdict_mark(Outcome::Verdict verdict) {
  switch (verdict) {
    case Outcome::Verdict::pass:
      return "&#10003;";  // check mark
    case Outcome::Verdict::fail:
      return "&#10007;";  // ballot x
    case Outcome::Verdict::warn:
      return "!";
    case Outcome::Verdict::skip:
      return "&ndash;";
    case Outcome::Verdict::flaky:
      return "~";
  }
  return "";
}

std::string row_name(const Outcome& test) {
  return test.check_id.empty() ? test.check : test.check_id;
}

std::string time_text(double seconds) {
  return seconds < 100 ? fmt::format("{:.1f}s", seconds) : fmt::format("{:.0f}s", seconds);
}

std::string head_of_file(const std::string& file) {
  constexpr std::size_t kShown = std::size_t{64} * 1024;
  std::ifstream in(file);
  if (!in)
    return "(cannot read " + file + ")";
  std::string text(kShown, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.gcount() == static_cast<std::streamsize>(kShown) && in.peek() != EOF)
    text += "\n... (the rest is in the file)\n";
  return text;
}

std::string evidence_link(const std::string& file) {
  return fmt::format("<a href=\"{}\">{}</a>",
                     xml_escaped(std::filesystem::path(file).filename().string()),
                     xml_escaped(file));
}

}  // namespace csd::report::html
