// One line of status on a terminal, rewritten in place ("\r", then erase to
// the end of the line) and cut to the terminal's width, so that it never
// wraps and a redraw always covers the previous text. On anything that is
// not a terminal (a log, a pipe) it writes nothing at all: a log is no place
// for a line that exists only to be overwritten.
#pragma once

#include <string_view>

namespace csd::harness {

class StatusLine {
 public:
  explicit StatusLine(int fd);
  ~StatusLine();  // erases the line if one is shown
  StatusLine(const StatusLine&) = delete;
  StatusLine& operator=(const StatusLine&) = delete;

  [[nodiscard]] bool on_terminal() const { return terminal_; }
  [[nodiscard]] bool shown() const { return shown_; }

  void show(std::string_view text);  // replaces what is shown
  void clear();                      // erases it; the cursor is back at column 0

 private:
  void write_all(std::string_view bytes) const;

  int fd_;
  bool terminal_;
  bool shown_ = false;
};

}  // namespace csd::harness
