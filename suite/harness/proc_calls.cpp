// What a process is doing about system calls and signals, from
// /proc/PID/syscall and /proc/PID/status (the SignalRace family, suite/observe).
#include <bitset>
#include <charconv>
#include <string>
#include <utility>

#include "proc_text.hpp"
#include "procfs.hpp"

namespace csd::harness {

using detail::parse_number;
using detail::read_file;
using detail::split_lines;
using detail::split_words;

std::optional<SyscallState> parse_syscall(std::string_view text) {
  const auto words = split_words(text.substr(0, text.find('\n')));
  if (words.empty())
    return std::nullopt;
  SyscallState state;
  if (words[0] == "running") {
    state.running = true;
    return state;
  }
  if (!parse_number(words[0], state.number))
    return std::nullopt;
  for (std::size_t k = 0; state.number >= 0 && k < state.args.size() && k + 1 < words.size(); ++k) {
    std::string_view hex = words[k + 1];
    if (hex.substr(0, 2) == "0x")
      hex.remove_prefix(2);
    std::from_chars(hex.data(), hex.data() + hex.size(), state.args[k], 16);
  }
  return state;
}

std::optional<SyscallState> read_syscall(pid_t pid) {
  const auto text = read_file("/proc/" + std::to_string(pid) + "/syscall");
  if (!text)
    return std::nullopt;
  return parse_syscall(*text);
}

std::optional<SyscallState> read_syscall(pid_t pid, pid_t tid) {
  const auto text =
      read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/syscall");
  return text ? parse_syscall(*text) : std::nullopt;
}

std::optional<SignalMasks> parse_signal_masks(std::string_view status) {
  SignalMasks masks;
  const std::pair<std::string_view, SignalBits*> fields[] = {{"SigPnd", &masks.pending},
                                                             {"ShdPnd", &masks.shared_pending},
                                                             {"SigBlk", &masks.blocked},
                                                             {"SigIgn", &masks.ignored},
                                                             {"SigCgt", &masks.caught}};
  int found = 0;
  for (const std::string_view line : split_lines(status)) {
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    for (const auto& [key, bits] : fields) {
      if (line.substr(0, colon) != key)
        continue;
      const auto words = split_words(line.substr(colon + 1));
      uint64_t value = 0;
      if (words.size() != 1)
        return std::nullopt;
      const auto [end, ec] =
          std::from_chars(words[0].data(), words[0].data() + words[0].size(), value, 16);
      if (ec != std::errc{} || end != words[0].data() + words[0].size())
        return std::nullopt;
      bits->bits = std::bitset<64>(value);
      ++found;
    }
  }
  if (found != static_cast<int>(std::size(fields)))
    return std::nullopt;
  return masks;
}

std::optional<SignalMasks> read_signal_masks(pid_t pid) {
  const auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!text)
    return std::nullopt;
  return parse_signal_masks(*text);
}

}  // namespace csd::harness
