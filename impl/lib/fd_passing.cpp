#include "fd_passing.hpp"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <array>
#include <cstring>

#include "syscalls.hpp"
#include "syserr.hpp"

namespace csd::impl {

namespace {

// The message both ways: one byte of data and room for one descriptor. It
// points into itself, so it is neither copied nor moved.
struct FdMessage {
  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;

  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
  msghdr msg{};
};

}  // namespace

bool write_fd(int channel, int fd) {
  FdMessage m;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&m.msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  if (Sendmsg(channel, m.msg, MSG_NOSIGNAL) == 1)
    return true;
  log_errno("sendmsg");
  return false;
}

csd::Fd read_fd(int channel) {
  FdMessage m;
  const ssize_t n = Recvmsg(channel, m.msg, MSG_CMSG_CLOEXEC);
  if (n < 0)
    log_errno("recvmsg");
  if (n <= 0)
    return {};
  const cmsghdr* cmsg = CMSG_FIRSTHDR(&m.msg);
  if (cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS || cmsg->cmsg_len != CMSG_LEN(sizeof(int))) {
    log_message("recvmsg: a message without a descriptor");
    return {};
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  return csd::Fd(fd);
}

}  // namespace csd::impl
