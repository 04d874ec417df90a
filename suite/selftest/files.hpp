// A file's whole text, as the selftests read the results a run left.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace csd::selftest {

inline std::string contents(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace csd::selftest
