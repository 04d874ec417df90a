// Which process holds an accepted connection, found from outside the server:
// the kernel's sock_diag (NETLINK_SOCK_DIAG, exact 4-tuple lookup) gives the
// server-side socket's inode, /proc/PID/fd says who holds that inode. Works for
// anyone's server, in any language.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace csd::harness {

// The inode of the TCP socket whose local end is `local` and remote end is
// `remote` (IPv4 or IPv6), or nullopt if there is none, or if it is not yet
// accepted (inode 0). Throws std::system_error if netlink itself fails.
std::optional<uint64_t> tcp_socket_inode(const sockaddr* local, socklen_t local_len,
                                         const sockaddr* remote, socklen_t remote_len);

// The processes among `candidates` whose descriptor tables hold `inode`.
std::vector<pid_t> holders_of(uint64_t inode, std::span<const pid_t> candidates);

// Waits (polling /proc and sock_diag, with a deadline) until the server side
// of a client connection (client local = `client`, client peer = `server`) is
// held by exactly one process among `candidates()` other than `exclude`
// (typically the pool's parent, which may hold it briefly while passing it on).
// Returns that pid, or nullopt at the deadline.
struct Attribution {
  std::optional<pid_t> owner;
  std::vector<pid_t> last_holders;  // what was seen last, for the failure message
  bool accepted = false;            // the kernel had assigned an inode
};
Attribution attribute_connection(const sockaddr* client, socklen_t client_len,
                                 const sockaddr* server, socklen_t server_len, pid_t tree_root,
                                 std::optional<pid_t> exclude,
                                 std::chrono::steady_clock::duration timeout);

}  // namespace csd::harness

namespace csd::harness {

// The kernel's view of one TCP socket (sock_diag): its inode (0 while not yet
// accepted) and queue lengths. For the server side of a connection, `rqueue`
// is how many request bytes the server has not read yet.
struct TcpSocketInfo {
  uint64_t inode = 0;
  uint32_t rqueue = 0;
  uint32_t wqueue = 0;
  uint8_t state = 0;  // TCP_ESTABLISHED, ...
};
// nullopt if the kernel has no such socket, or an address is empty (length
// 0: a connection whose end is already gone).
std::optional<TcpSocketInfo> tcp_socket_info(const sockaddr* local, socklen_t local_len,
                                             const sockaddr* remote, socklen_t remote_len);

}  // namespace csd::harness

namespace csd::harness {

// True if some TCP socket (IPv4 or IPv6, any address) is in LISTEN on `port`
// (a sock_diag dump of listeners only, which stays cheap however many
// connections the machine has; /proc/net/tcp{,6} if netlink is unavailable).
bool tcp_port_listening(uint16_t port);

// The accept queue of a listening socket: connections the kernel has
// completed that the server has not accepted yet, and the most it holds (the
// listen() backlog after the kernel's somaxconn cap). Beyond it the kernel
// drops SYNs, and the handshake's last ACK, rather than refuse.
struct ListenQueue {
  uint32_t queued = 0;
  uint32_t backlog = 0;
  uint64_t inode = 0;  // the listening socket: /proc/PID/fd says who holds it
  [[nodiscard]] bool full() const { return queued > backlog; }
};
// The accept queue of each TCP socket listening on `port`: one for most
// servers, one per socket of an SO_REUSEPORT group. Throws std::system_error
// if netlink fails.
std::vector<ListenQueue> tcp_listen_queues(uint16_t port);

// Whom a client still waiting for its reply waits on, from both kernels'
// view of its connection: sock_diag's for the server's end, SIOCOUTQ on the
// client's socket for its own. Over a full accept queue Linux refuses
// nobody: with SYN cookies it answers a SYN, then drops the handshake's last
// ACK, so the client's connect() succeeds while the server's kernel holds
// nothing for it; and a client whose bytes are unacknowledged waits on TCP's
// backoff, not on the server.
enum class WaitsOn {
  server,           // it holds the request, nothing in flight: the server owes the reply
  not_admitted,     // no socket on the server's side, though the client's connect()
                    // succeeded: the handshake's last ACK (a SYN cookie's) was dropped
                    // over the full accept queue; only a retransmission can admit it
  tcp_backoff,      // request or reply bytes unacknowledged: one side's TCP is
                    // retransmitting, on its exponential backoff
  server_finished,  // the server has closed, all it sent acknowledged: its FIN is on
                    // the way, and what the client has is all it gets
};
// `server_end`: tcp_socket_info() of the connection whose client socket is
// `client_fd` (nullopt: the server's kernel has no such socket).
WaitsOn waits_on(int client_fd, const std::optional<TcpSocketInfo>& server_end);

}  // namespace csd::harness
