// Passing a descriptor to another process over a Unix stream socket: UNP's
// write_fd and read_fd (lib/write_fd.c, lib/read_fd.c, UNP 15.7). Each message
// is one byte of data carrying one descriptor in an SCM_RIGHTS control message;
// the byte is there because a message with no data cannot carry one.
// csd-prefork-fdpass's parent passes accepted connections with them.
#pragma once

#include "fd.hpp"

namespace csd::impl {

// Passes `fd` down `channel` (MSG_NOSIGNAL: a dead receiver costs EPIPE, not
// the process). The receiver gets its own descriptor for the same open socket,
// so the caller may close `fd` at once. False, logged ("sendmsg: ..."), if it
// could not.
bool write_fd(int channel, int fd);

// The descriptor passed down `channel` (close-on-exec); an invalid Fd at EOF
// (the sender is gone), on an error (logged) or when no descriptor came.
csd::Fd read_fd(int channel);

}  // namespace csd::impl
