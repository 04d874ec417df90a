// The text readers every /proc reader shares (procfs.cpp, procfs_sockets.cpp,
// proc_calls.cpp): a whole small file, a number, its lines and words, a
// folder. Only libc and std: csd-guard
// compiles procfs.cpp too.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace csd::harness::detail {

// Reads a whole (small, /proc) file; nullopt if it cannot be opened or read.
inline std::optional<std::string> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  std::string text;
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n > 0) {
      text.append(buf.data(), static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      ::close(fd);
      return std::nullopt;  // e.g. ESRCH: the process exited between open and read
    }
  }
  ::close(fd);
  return text;
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

// The lines of a /proc file, without their newlines.
inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto eol = text.find('\n');
    lines.push_back(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
  }
  return lines;
}

// The words of a line, at runs of blanks (/proc/stat pads "cpu" with two).
inline std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  while (true) {
    const auto start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos)
      return words;
    line.remove_prefix(start);
    const auto end = line.find_first_of(" \t");
    words.push_back(line.substr(0, end));
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  }
}

// A folder open for readdir(), closed with its owner (opendir() sets
// O_CLOEXEC in glibc); null if it cannot be opened (a process gone).
struct CloseDir {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, CloseDir>;

inline DirPtr open_dir(const std::string& path) { return DirPtr(::opendir(path.c_str())); }

// A process's descriptors: one symbolic link per open descriptor.
inline std::string fd_dir(pid_t pid) { return "/proc/" + std::to_string(pid) + "/fd"; }

}  // namespace csd::harness::detail
