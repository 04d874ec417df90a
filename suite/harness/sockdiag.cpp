// sock_diag (netlink) queries. Stateless and thread-safe: every call opens its
// own netlink socket, so the suite's client threads may attribute their
// connections concurrently.
#include "sockdiag.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

#include "fd.hpp"
#include "procfs.hpp"
#include "timeouts.hpp"

namespace csd::harness {

namespace {

// One end of a TCP connection as sock_diag wants it: network byte order.
struct Endpoint {
  uint8_t family = AF_UNSPEC;
  uint16_t port_be = 0;
  std::array<uint32_t, 4> addr{};
};

bool is_v4_mapped(const in6_addr& a) { return IN6_IS_ADDR_V4MAPPED(&a); }

Endpoint endpoint_of(const sockaddr* sa, socklen_t len) {
  Endpoint e;
  if (sa != nullptr && sa->sa_family == AF_INET &&
      len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    e.family = AF_INET;
    e.port_be = in->sin_port;
    e.addr[0] = in->sin_addr.s_addr;
  } else if (sa != nullptr && sa->sa_family == AF_INET6 &&
             len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    e.port_be = in6->sin6_port;
    if (is_v4_mapped(in6->sin6_addr)) {
      // A dual-stack socket talking IPv4: the kernel hashes the connection
      // under its IPv4 addresses, so look it up as IPv4.
      e.family = AF_INET;
      std::memcpy(&e.addr[0], &in6->sin6_addr.s6_addr[12], 4);
    } else {
      e.family = AF_INET6;
      std::memcpy(e.addr.data(), &in6->sin6_addr, sizeof(in6_addr));
    }
  } else {
    throw std::invalid_argument("sock_diag: not an IPv4 or IPv6 socket address");
  }
  return e;
}

class DiagSocket {
 public:
  DiagSocket() : fd_(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) {
    if (!fd_)
      throw std::system_error(errno, std::generic_category(),
                              "socket(AF_NETLINK, NETLINK_SOCK_DIAG)");
    // The kernel answers within the send; the timeout only bounds a surprise.
    const timeval timeout{.tv_sec = 2, .tv_usec = 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }

  // Exact lookup of one connection: no NLM_F_DUMP, the id is the 4-tuple.
  std::optional<TcpSocketInfo> lookup(const Endpoint& local, const Endpoint& remote) {
    Request request = make_request(local.family, ~0U, NLM_F_REQUEST);
    request.body.id.idiag_sport = local.port_be;
    request.body.id.idiag_dport = remote.port_be;
    std::copy(local.addr.begin(), local.addr.end(), request.body.id.idiag_src);
    std::copy(remote.addr.begin(), remote.addr.end(), request.body.id.idiag_dst);
    send(request, "sock_diag exact lookup");

    std::optional<TcpSocketInfo> found;
    receive(request.header.nlmsg_seq, "sock_diag exact lookup", [&](const inet_diag_msg& msg) {
      // Without an established match the kernel falls back to the listener
      // on the local address; that is not the connection we asked about.
      if (msg.id.idiag_dport != remote.port_be || msg.idiag_state == TCP_LISTEN)
        return;
      found = TcpSocketInfo{.inode = msg.idiag_inode,
                            .rqueue = msg.idiag_rqueue,
                            .wqueue = msg.idiag_wqueue,
                            .state = msg.idiag_state};
    });
    return found;
  }

  // Calls `visit` for every listening TCP socket of `family`.
  template <typename Visit>
  void dump_listeners(uint8_t family, Visit visit) {
    Request request = make_request(family, 1U << TCP_LISTEN, NLM_F_REQUEST | NLM_F_DUMP);
    send(request, "sock_diag listener dump");
    receive(request.header.nlmsg_seq, "sock_diag listener dump", visit);
  }

 private:
  struct Request {
    nlmsghdr header;
    inet_diag_req_v2 body;
  };

  Request make_request(uint8_t family, uint32_t states, uint16_t flags) {
    Request r{};
    r.header.nlmsg_len = sizeof(Request);
    r.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    r.header.nlmsg_flags = flags;
    r.header.nlmsg_seq = ++seq_;
    r.body.sdiag_family = family;
    r.body.sdiag_protocol = IPPROTO_TCP;
    r.body.idiag_states = states;
    r.body.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    r.body.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    return r;
  }

  void send(const Request& r, const char* what) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
      if (::sendto(fd_.get(), &r, sizeof r, 0, reinterpret_cast<const sockaddr*>(&kernel),
                   sizeof kernel) >= 0)
        return;
      if (errno != EINTR)
        throw std::system_error(errno, std::generic_category(), std::string(what) + ": sendto");
    }
  }

  // Reads replies to `seq` until the kernel is done: one message for an exact
  // lookup, NLMSG_DONE for a dump. ENOENT means "no such socket", not failure.
  template <typename Visit>
  void receive(uint32_t seq, const char* what, Visit visit) {
    alignas(nlmsghdr) std::array<char, 32768> buf{};
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        throw std::system_error(errno, std::generic_category(), std::string(what) + ": recv");
      }
      auto remaining = static_cast<unsigned int>(n);
      bool done = false;
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, remaining);
           h = NLMSG_NEXT(h, remaining)) {
        if (h->nlmsg_seq != seq)
          continue;  // a late answer to an earlier question
        if (h->nlmsg_type == NLMSG_DONE)
          return;
        if (h->nlmsg_type == NLMSG_ERROR) {
          const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
          if (err->error == 0 || err->error == -ENOENT)
            return;
          throw std::system_error(-err->error, std::generic_category(), what);
        }
        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
          visit(*static_cast<const inet_diag_msg*>(NLMSG_DATA(h)));
          if ((h->nlmsg_flags & NLM_F_MULTI) == 0)
            done = true;  // an exact lookup's single answer
        }
      }
      if (done)
        return;
    }
  }

  Fd fd_;
  uint32_t seq_ = 0;
};

// The /proc/net/tcp{,6} way: "sl local_address rem_address st ...", the local
// port in hex after the ':', state 0A is LISTEN.
bool proc_net_tcp_listening(uint16_t port) {
  for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      char local[64] = {};
      char remote[64] = {};
      unsigned state = 0;
      if (std::sscanf(line.c_str(), "%*d: %63s %63s %x", local, remote, &state) != 3)
        continue;
      const char* colon = std::strrchr(local, ':');
      if (colon != nullptr && std::strtoul(colon + 1, nullptr, 16) == port && state == TCP_LISTEN)
        return true;
    }
  }
  return false;
}

std::vector<pid_t> without(std::vector<pid_t> pids, std::optional<pid_t> excluded) {
  if (excluded)
    pids.erase(std::remove(pids.begin(), pids.end(), *excluded), pids.end());
  return pids;
}

}  // namespace

std::optional<TcpSocketInfo> tcp_socket_info(const sockaddr* local, socklen_t local_len,
                                             const sockaddr* remote, socklen_t remote_len) {
  // No address at all: the caller's end is gone (getpeername() fails with
  // ENOTCONN once the peer has reset), so there is no such connection.
  if (local_len == 0 || remote_len == 0)
    return std::nullopt;
  const Endpoint l = endpoint_of(local, local_len);
  const Endpoint r = endpoint_of(remote, remote_len);
  if (l.family != r.family)
    throw std::invalid_argument("sock_diag: local and remote address families differ");
  DiagSocket diag;
  return diag.lookup(l, r);
}

std::optional<uint64_t> tcp_socket_inode(const sockaddr* local, socklen_t local_len,
                                         const sockaddr* remote, socklen_t remote_len) {
  const auto info = tcp_socket_info(local, local_len, remote, remote_len);
  if (!info || info->inode == 0)
    return std::nullopt;
  return info->inode;
}

std::vector<pid_t> holders_of(uint64_t inode, std::span<const pid_t> candidates) {
  std::vector<pid_t> holders;
  for (const pid_t pid : candidates) {
    if (holds_socket(pid, inode))
      holders.push_back(pid);
  }
  return holders;
}

Attribution attribute_connection(const sockaddr* client, socklen_t client_len,
                                 const sockaddr* server, socklen_t server_len, pid_t tree_root,
                                 std::optional<pid_t> exclude,
                                 std::chrono::steady_clock::duration timeout) {
  const auto deadline = deadline_in(timeout);
  // The server's side of the connection: local = the server's address, remote = the client's.
  const Endpoint server_end = endpoint_of(server, server_len);
  const Endpoint client_end = endpoint_of(client, client_len);
  if (server_end.family != client_end.family) {
    throw std::invalid_argument("attribute_connection: client and server address families differ");
  }
  DiagSocket diag;
  Attribution result;
  for (;;) {
    if (const auto info = diag.lookup(server_end, client_end); info && info->inode != 0) {
      result.accepted = true;
      // The tree is read afresh each time: a fork-per-connection server's
      // owner may not have existed a moment ago.
      result.last_holders = holders_of(info->inode, process_tree(tree_root));
      const auto owners = without(result.last_holders, exclude);
      if (owners.size() == 1) {
        result.owner = owners.front();
        return result;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return result;
    ::poll(nullptr, 0,
           1);  // nothing to wait on: the condition is in the kernel; bounded by the deadline
  }
}

bool tcp_port_listening(uint16_t port) {
  try {
    return !tcp_listen_queues(port).empty();
  } catch (const std::system_error&) {
    return proc_net_tcp_listening(port);
  }
}

std::vector<ListenQueue> tcp_listen_queues(uint16_t port) {
  std::vector<ListenQueue> queues;
  DiagSocket diag;
  // For a listener the kernel reports its accept queue's length
  // (sk_ack_backlog) as the read queue and its limit (sk_max_ack_backlog) as
  // the write queue.
  const auto match = [&](const inet_diag_msg& msg) {
    if (ntohs(msg.id.idiag_sport) == port)
      queues.push_back(
          {.queued = msg.idiag_rqueue, .backlog = msg.idiag_wqueue, .inode = msg.idiag_inode});
  };
  diag.dump_listeners(AF_INET, match);
  try {
    diag.dump_listeners(AF_INET6, match);
  } catch (const std::system_error&) {
    // no IPv6 sock_diag: nothing listens there
  }
  return queues;
}

}  // namespace csd::harness

namespace csd::harness {

WaitsOn waits_on(int client_fd, const std::optional<TcpSocketInfo>& server_end) {
  if (!server_end || server_end->state == TCP_SYN_RECV)
    return WaitsOn::not_admitted;
  if (int unacknowledged = 0;
      ::ioctl(client_fd, SIOCOUTQ, &unacknowledged) == 0 && unacknowledged > 0)
    return WaitsOn::tcp_backoff;
  // The server's unacknowledged bytes (its FIN counts as one).
  const bool server_closed =
      server_end->state != TCP_ESTABLISHED && server_end->state != TCP_CLOSE_WAIT;
  if (server_end->wqueue > (server_closed ? 1U : 0U))
    return WaitsOn::tcp_backoff;
  return server_closed ? WaitsOn::server_finished : WaitsOn::server;
}

}  // namespace csd::harness
