// csd-client: the load client. The seed client.py's flags and meaning
// (CLIENTS concurrent clients, each making CONNS sequential connections
// requesting BYTES bytes), with a verdict on every connection: the exit
// status is 0 only if every one got exactly what it asked for.
#include <arpa/inet.h>
#include <netdb.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "load.hpp"

namespace {

namespace cl = csd::client;

constexpr int kExitFailures = 1;
constexpr int kExitUsage = 2;

struct Args {
  std::string host;
  int port = 0;
  int clients = 5;
  int conns = 500;
  int64_t bytes = 3000;  // signed: so that "-5" is rejected, not wrapped
  std::string protocol_name = "size";
  cl::Protocol protocol = cl::Protocol::size;  // from protocol_name, after parsing
  bool json = false;
  bool bare = false;
  double timeout_s = 10.0;
  int after_reply_ms = 100;
  int sources = 1;
};

// The library takes numeric addresses only; a name is resolved here, once.
// IPv4 first, as client.py (AF_INET) does: "localhost" should reach a
// server listening on 127.0.0.1 even where ::1 is listed first.
std::optional<std::string> numeric_host(const std::string& host, std::string& error) {
  if (cl::SockAddr::parse(host, 0))
    return host;
  for (int family : {AF_INET, AF_UNSPEC}) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
      error = fmt::format("getaddrinfo: {}: {}", host, ::gai_strerror(rc));
      continue;
    }
    std::array<char, NI_MAXHOST> text{};
    rc = ::getnameinfo(found->ai_addr, found->ai_addrlen, text.data(), text.size(), nullptr, 0,
                       NI_NUMERICHOST);
    ::freeaddrinfo(found);
    if (rc == 0)
      return std::string(text.data());
    error = fmt::format("getnameinfo: {}: {}", host, ::gai_strerror(rc));
  }
  return std::nullopt;
}

void add_options(CLI::App& app, Args& a) {
  app.add_option("-i,--host", a.host, "Server address (IPv4, IPv6 or a name)")->required();
  app.add_option("-p,--port", a.port, "Server port")->required()->check(CLI::Range(1, 65535));
  app.add_option("-c,--clients", a.clients, "Concurrent clients (threads)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("-t,--conns", a.conns, "Sequential connections per client")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000000));
  app.add_option("-b,--bytes", a.bytes, "Bytes to request (size) or to send and get back (echo)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  app.add_option("--protocol", a.protocol_name,
                 "size: send \"N\\n\", expect N bytes; echo: send N bytes, expect them back")
      ->capture_default_str()
      ->check(CLI::IsMember({"size", "echo"}));
  app.add_flag("--json", a.json, "Print the report as JSON on stdout instead of text");
  app.add_flag("--bare", a.bare,
               "size: send the digits without \"\\n\", as the seed's client.py does");
  app.add_option("--timeout", a.timeout_s,
                 "Seconds allowed per connection, connect to complete reply")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option(
         "--after-reply-wait", a.after_reply_ms,
         "Milliseconds to watch for stray bytes after a complete reply (a server may keep the "
         "connection open; that is not a failure)")
      ->capture_default_str()
      ->check(CLI::Range(0, 600000));
  app.add_option(
         "--sources", a.sources,
         "Spread connections over source addresses 127.0.0.1..127.0.0.N (IPv4 loopback targets "
         "only), against ephemeral port and TIME_WAIT exhaustion")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
}

std::string protocol_name(cl::Protocol p) { return p == cl::Protocol::size ? "size" : "echo"; }

nlohmann::json run_json(const Args& a, const std::string& host) {
  return {{"host", host},     {"port", a.port},           {"clients", a.clients},
          {"conns", a.conns}, {"bytes", a.bytes},         {"protocol", protocol_name(a.protocol)},
          {"bare", a.bare},   {"timeout_s", a.timeout_s}, {"sources", a.sources}};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{R"(NAME
  csd-client - load client for the size and echo protocols, with a verdict per connection

SYNOPSIS
  csd-client -i HOST -p PORT [-c CLIENTS] [-t CONNS] [-b BYTES] [--protocol size|echo]
             [--json] [--bare] [--timeout S] [--after-reply-wait MS] [--sources N]

DESCRIPTION
  CLIENTS concurrent clients (threads) each make CONNS sequential connections to
  HOST:PORT. size: each sends "BYTES\n" and expects exactly BYTES bytes, then EOF;
  echo: each sends BYTES bytes and expects them back. Every connection gets a verdict
  (complete, short, long, refused, reset, timed out); the report counts them and gives
  the connect and reply latencies. The flags and their meaning are the csdesign
  tutorial's client.py's.
)"};
  app.option_defaults()->group("OPTIONS");
  app.set_help_flag("-h,--help", "Print this help and exit");
  app.footer(R"(EXIT STATUS
  0  every connection got exactly what it asked for
  1  a connection did not (short, long, reset, refused, timed out), or the load failed
  2  bad usage (an option out of range, --bare with echo, a name that does not resolve)

EXAMPLES
  csd-client -i 127.0.0.1 -p 5123 -c 5 -t 500 -b 3000    client.py's default load
  csd-client -i ::1 -p 5123 -c 1 -t 1 --protocol echo -b 100000
                                            one connection echoing 100 kB, over IPv6
  csd-client -i 127.0.0.1 -p 5123 -c 50 --json >run.json  the report as JSON

SEE ALSO
  csd-suite(1), csd-report(1), csd-bench(1), csd-capture(1))");
  Args a;
  add_options(app, a);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, or the error with a hint
    return code == 0 ? 0 : kExitUsage;
  }
  a.protocol = a.protocol_name == "echo" ? cl::Protocol::echo : cl::Protocol::size;

  if (a.bare && a.protocol != cl::Protocol::size) {
    fmt::print(stderr, "csd-client: --bare applies to --protocol size only\n");
    return kExitUsage;
  }
  std::string resolve_error;
  auto host = numeric_host(a.host, resolve_error);
  if (!host) {
    fmt::print(stderr, "csd-client: {}\n", resolve_error);
    return kExitUsage;
  }
  cl::LoadOptions options;
  options.target = {.host = *host, .port = static_cast<uint16_t>(a.port)};
  options.clients = a.clients;
  options.conns = a.conns;
  options.fetch.protocol = a.protocol;
  options.fetch.bytes = static_cast<uint64_t>(a.bytes);
  options.fetch.bare = a.bare;
  options.fetch.timeout = std::chrono::milliseconds(std::llround(a.timeout_s * 1000.0));
  options.fetch.after_reply_wait = std::chrono::milliseconds(a.after_reply_ms);
  options.source_addresses = a.sources;
  if (a.sources > 1 && !host->starts_with("127.")) {
    fmt::print(stderr, "csd-client: --sources needs an IPv4 loopback target (127.x.y.z), not {}\n",
               *host);
    return kExitUsage;
  }

  cl::LoadReport report;
  try {
    report = cl::run_load(options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "csd-client: {}\n", e.what());
    return kExitFailures;
  }

  if (a.json) {
    nlohmann::json j = report;
    j["run"] = run_json(a, *host);
    fmt::print("{}\n", j.dump(2));
    if (!report.all_ok()) {
      fmt::print(stderr, "csd-client: {} of {} connections failed\n", report.failures(),
                 report.connections);
    }
  } else {
    fmt::print("csd-client: {} clients x {} conns, {} {} bytes, to {}\n", a.clients, a.conns,
               protocol_name(a.protocol), a.bytes,
               cl::SockAddr::parse(*host, options.target.port)->to_string());
    fmt::print("{}", cl::format_human(report));
  }
  std::fflush(stdout);
  return report.all_ok() ? 0 : kExitFailures;
}
