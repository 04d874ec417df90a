#include "status_line.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace csd::harness {

namespace {

constexpr std::string_view kEraseLine = "\r\033[K";

// Columns of the terminal on `fd`, asked afresh each time so that a resized
// window is followed; 80 when the terminal does not say.
std::size_t columns(int fd) {
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
    return size.ws_col;
  return 80;
}

}  // namespace

StatusLine::StatusLine(int fd) : fd_(fd), terminal_(::isatty(fd) == 1) {}

StatusLine::~StatusLine() { clear(); }

void StatusLine::show(std::string_view text) {
  if (!terminal_)
    return;
  // One column short of the width: a character in the last column leaves
  // some terminals waiting to wrap, and the next "\r" would then go astray.
  const std::size_t room = columns(fd_) - 1;
  std::string line(kEraseLine);
  line += text.substr(0, room);
  write_all(line);
  shown_ = true;
}

void StatusLine::clear() {
  if (!shown_)
    return;
  write_all(kEraseLine);
  shown_ = false;
}

void StatusLine::write_all(std::string_view bytes) const {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;  // a status line is not worth failing over
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace csd::harness
