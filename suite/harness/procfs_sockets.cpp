// /proc readers of the sockets a process holds (its /proc/PID/fd links)
// and of the network namespace's TCP counters (procfs.hpp). A process gone
// mid-read holds nothing.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "proc_text.hpp"
#include "procfs.hpp"

namespace csd::harness {

namespace {

using namespace detail;  // the readers of /proc text every /proc reader shares (proc_text.hpp)

// "socket:[12345]" -> 12345.
std::optional<uint64_t> socket_inode_of_link(std::string_view target) {
  constexpr std::string_view prefix = "socket:[";
  if (target.substr(0, prefix.size()) != prefix || target.back() != ']')
    return std::nullopt;
  uint64_t inode = 0;
  if (!parse_number(target.substr(prefix.size(), target.size() - prefix.size() - 1), inode))
    return std::nullopt;
  return inode;
}

// Calls `visit(inode)` for every socket in /proc/PID/fd until it returns true.
template <typename Visit>
bool for_each_socket(pid_t pid, Visit visit) {
  const std::string dir_path = fd_dir(pid);
  const DirPtr dir = open_dir(dir_path);
  if (!dir)
    return false;
  std::array<char, 64> target{};
  while (const dirent* entry = ::readdir(dir.get())) {
    if (entry->d_name[0] == '.')
      continue;
    const std::string link = dir_path + "/" + entry->d_name;
    const ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
    if (n <= 0 || static_cast<std::size_t>(n) >= target.size())
      continue;  // closed meanwhile, or not a socket
    if (const auto inode =
            socket_inode_of_link(std::string_view(target.data(), static_cast<std::size_t>(n)))) {
      if (visit(*inode))
        return true;
    }
  }
  return false;
}

}  // namespace

std::optional<uint64_t> read_netstat_counter(std::string_view section, std::string_view name) {
  const auto text = read_file("/proc/net/netstat");
  if (!text)
    return std::nullopt;
  // Lines in pairs: "TcpExt: NAME NAME ..." then "TcpExt: VALUE VALUE ...".
  const auto lines = split_lines(*text);
  for (std::size_t i = 0; i + 1 < lines.size(); i += 2) {
    const auto names = split_words(lines[i]);
    const auto values = split_words(lines[i + 1]);
    if (names.empty() || names[0] != std::string(section) + ":")
      continue;
    for (std::size_t k = 1; k < names.size() && k < values.size(); ++k) {
      uint64_t value = 0;
      if (names[k] == name && parse_number(values[k], value))
        return value;
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> time_wait_sockets() {
  const auto text = read_file("/proc/net/sockstat");
  if (!text)
    return std::nullopt;
  // "TCP: inuse 5 orphan 0 tw 2 alloc 7 mem 1": the counters in key-value pairs.
  for (const std::string_view line : split_lines(*text)) {
    const auto words = split_words(line);
    if (words.empty() || words[0] != "TCP:")
      continue;
    for (std::size_t k = 1; k + 1 < words.size(); k += 2) {
      uint64_t value = 0;
      if (words[k] == "tw" && parse_number(words[k + 1], value))
        return value;
    }
  }
  return std::nullopt;
}

std::vector<uint64_t> socket_inodes(pid_t pid) {
  std::vector<uint64_t> inodes;
  for_each_socket(pid, [&](uint64_t inode) {
    inodes.push_back(inode);
    return false;
  });
  std::sort(inodes.begin(), inodes.end());
  inodes.erase(std::unique(inodes.begin(), inodes.end()), inodes.end());
  return inodes;
}

bool holds_socket(pid_t pid, uint64_t inode) {
  return for_each_socket(pid, [inode](uint64_t held) { return held == inode; });
}

std::optional<uint64_t> socket_inode_of_fd(pid_t pid, int fd) {
  std::array<char, 64> target{};
  const std::string link = fd_dir(pid) + "/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), target.data(), target.size());
  if (n <= 0 || static_cast<std::size_t>(n) >= target.size())
    return std::nullopt;
  return socket_inode_of_link(std::string_view(target.data(), static_cast<std::size_t>(n)));
}

}  // namespace csd::harness
