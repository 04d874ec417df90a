// csd-cork: to every client, a small header with write(2), then a body with sendfile(2), then
// close: an HTTP response in miniature. With --cork on, TCP_CORK holds the header back until
// the body has joined it, and both leave in one segment; with --cork off, TCP_NODELAY sends the
// header at once, alone, in a segment of its own. Watch: tcpdump -i lo -n port PORT.
// More: impl/README.md, "csd-cork".
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include <unistd.h>

#include <cerrno>
#include <span>
#include <string>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include "fd.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syscalls.hpp"
#include "syserr.hpp"

using namespace csd::impl;

namespace {

void set_tcp_option(int sock, int option, int value, const char* name) {
  if (::setsockopt(sock, IPPROTO_TCP, option, &value, sizeof value) < 0)
    throw syscall_error(fmt::format("setsockopt {}", name));
}

// The body lives in a file, as a web server's would: here an anonymous one
// (memfd), so the demo needs no file of its own and leaves none behind.
csd::Fd make_body_file(unsigned bytes) {
  csd::Fd file(::memfd_create("csd-cork-body", MFD_CLOEXEC));
  if (!file)
    throw syscall_error("memfd_create");
  const std::string body(bytes, 'b');
  if (!write_all(file.get(), std::as_bytes(std::span(body))))
    throw syscall_error("write body");
  return file;
}

// sendfile(2) of the whole body, going on after short returns. False with
// errno set if the client went away.
bool send_body(int sock, int body, unsigned bytes) {
  off_t offset = 0;
  while (offset < static_cast<off_t>(bytes)) {
    const ssize_t sent = restart_on_eintr(
        [&] { return ::sendfile(sock, body, &offset, bytes - static_cast<size_t>(offset)); });
    if (sent <= 0)
      return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bool cork = true;
  unsigned header_bytes = 200;
  unsigned body_bytes = 4000;
  const Options opts = parse_options(
      {.name = "csd-cork",
       .description = "a header with write(), a body with sendfile(): TCP_CORK or TCP_NODELAY",
       .serves_protocol = false},
      argc, argv, [&](CLI::App& app) {
        choice_flag("--cork", "on: TCP_CORK around header and body; off: TCP_NODELAY",
                    {{"on", true}, {"off", false}}, cork)(app);
        number_flag("--header-bytes", "Bytes of header, sent with write()", header_bytes, 1,
                    1U << 20)(app);
        number_flag("--body-bytes", "Bytes of body, sent with sendfile()", body_bytes, 1,
                    1U << 30)(app);
      });
  return run_main("csd-cork", [&] {
    ignore_sigpipe();  // a client that leaves early costs an EPIPE, not the process
    exit_on_stop_signals();
    const csd::Fd body = make_body_file(body_bytes);
    const std::string header(header_bytes, 'h');
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    announce_listening(listener);

    for (;;) {
      const csd::Fd conn = accept_connection(listener.fd.get());
      if (!conn)
        continue;
      if (cork)  // nothing leaves until the cork comes out, or a full segment is waiting
        set_tcp_option(conn.get(), TCP_CORK, 1, "TCP_CORK");
      else  // every write leaves at once, however small
        set_tcp_option(conn.get(), TCP_NODELAY, 1, "TCP_NODELAY");
      if (!write_all(conn.get(), std::as_bytes(std::span(header))) ||
          !send_body(conn.get(), body.get(), body_bytes)) {
        log_errno("send");
        continue;
      }
      if (cork)  // out with it: header and body leave together
        set_tcp_option(conn.get(), TCP_CORK, 0, "TCP_CORK");
    }  // close: the FIN follows the data
  });
}
