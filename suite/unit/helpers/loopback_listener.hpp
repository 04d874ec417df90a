// A listening TCP socket on a leased 127.0.0.1 port, for the capture tests:
// connect() a client to it, accept() the server's end (or leave the kernel
// to finish the handshake with nobody accepting).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "fd.hpp"
#include "ports.hpp"

namespace csd::unit {

class LoopbackListener {
 public:
  LoopbackListener() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    const sockaddr_in self = address();
    if (!listener_ || ::bind(listener_.get(), as_sockaddr(self), sizeof self) != 0 ||
        ::listen(listener_.get(), 8) != 0)
      throw std::system_error(errno, std::generic_category(), "LoopbackListener");
  }

  [[nodiscard]] uint16_t port() const { return lease_.port(); }

  // A client connected to it; invalid if connect() failed.
  [[nodiscard]] Fd connect() const {
    Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_in server = address();
    if (::connect(client.get(), as_sockaddr(server), sizeof server) != 0)
      client.reset();
    return client;
  }

  // The server's end of the next connection.
  [[nodiscard]] Fd accept() const {
    return Fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }

  // The port a connected socket has at its own end.
  static uint16_t local_port(const Fd& socket) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
  }

 private:
  static const sockaddr* as_sockaddr(const sockaddr_in& address) {
    return reinterpret_cast<const sockaddr*>(&address);
  }
  [[nodiscard]] sockaddr_in address() const {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(lease_.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
  }

  harness::PortLease lease_ = harness::PortLease::acquire("127.0.0.1");
  Fd listener_;
};

}  // namespace csd::unit
