// csd-iterative: one client at a time, start to finish (UNP 30.4, serv00.c; the seed's
// server01). Watch: connect once and send nothing, and every other client waits in the
// listen queue (ss -ltn: Recv-Q) until that one lets go. SIGTERM ends it even then.
// More: impl/README.md, "csd-iterative".
#include "protocols.hpp"
#include "server_options.hpp"
#include "signal_pipe.hpp"
#include "sockets.hpp"
#include "syserr.hpp"

using namespace csd::impl;

int main(int argc, char** argv) {
  const Options opts = parse_options(
      {"csd-iterative", "iterative: one process serves one client at a time, start to finish"},
      argc, argv);
  return run_main("csd-iterative", [&] {
    ignore_sigpipe();
    // No loop to return to while a client holds us in read() or write(): a
    // stop request ends the process there and then, and the kernel closes up.
    exit_on_stop_signals();
    const Listener listener = listen_tcp(opts.host, opts.port, opts.backlog);
    announce_listening(listener);

    for (;;) {
      csd::Fd conn = accept_connection(listener.fd.get());
      if (conn)  // serve it completely; nobody else is served meanwhile: that is the design
        serve_blocking(std::move(conn), opts.protocol, opts.max_bytes);
    }
  });
}
