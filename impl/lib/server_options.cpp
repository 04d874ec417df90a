#include "server_options.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

namespace csd::impl {

namespace {

// "numeric IPv4 or IPv6 address" as a CLI11 validator: names are not looked
// up, so a typo fails here rather than binding somewhere unexpected.
const CLI::Validator kNumericAddress(
    [](const std::string& host) -> std::string {
      unsigned char buf[sizeof(in6_addr)];
      if (::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
          ::inet_pton(AF_INET6, host.c_str(), buf) == 1)
        return {};
      return "not a numeric IPv4 or IPv6 address: " + host;
    },
    "ADDRESS");

}  // namespace

Options parse_options(const ProgramInfo& program, int argc, char** argv,
                      const DesignFlag& design_flag) {
  Options opts;
  CLI::App app{std::string(program.description), std::string(program.name)};
  // The contract every server and demo here keeps with csd-suite (docs/PROTOCOL.md).
  app.footer(R"(READY
  Once it listens, it prints "listening on HOST:PORT" on stdout (flushed).

STOPPING
  SIGTERM or SIGINT: it stops accepting, ends its workers and exits; a pool first prints
  one "child N : K times" line per worker (threads: "thread N : K times").

EXIT STATUS
  0  stopped by SIGTERM or SIGINT
  1  a fatal error (e.g. the address is in use), said on stderr
  2  bad usage

SEE ALSO
  csd-client(1), csd-suite(1), impl/README.md, docs/PROTOCOL.md)");
  app.add_option("-i,--host", opts.host, "Numeric IPv4 or IPv6 address to listen on")
      ->capture_default_str()
      ->check(kNumericAddress);
  app.add_option("-p,--port", opts.port, "Port; 0 picks an ephemeral one (see the listening line)")
      ->capture_default_str();
  // A small backlog shows what a burst of connections meets (robust/burst-above-backlog).
  app.add_option("--backlog", opts.backlog,
                 "listen()'s backlog: connections the kernel queues until accepted "
                 "(capped by net.core.somaxconn)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65535));
  if (program.has_workers) {
    app.add_option("-n,--workers", opts.workers, "Pool size: worker processes or threads")
        ->capture_default_str()
        ->check(CLI::Range(1U, 1024U));
  }
  std::string protocol{to_string(opts.protocol)};
  if (program.serves_protocol) {
    app.add_option("--protocol", protocol,
                   "size: reply with the N bytes asked for; echo: RFC 862 until half-close")
        ->capture_default_str()
        ->check(CLI::IsMember({"size", "echo"}));
    app.add_option("--max-bytes", opts.max_bytes,
                   "Largest size request served; bigger ones are refused")
        ->capture_default_str()
        ->check(CLI::Range(uint64_t{0}, uint64_t{std::numeric_limits<int64_t>::max()}));
  }
  if (design_flag)
    design_flag(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::exit(app.exit(e));
  } catch (const CLI::CallForAllHelp& e) {
    std::exit(app.exit(e));
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and "Run with --help for more information."
    std::exit(2);
  }
  opts.protocol = protocol == "echo" ? Protocol::echo : Protocol::size;
  return opts;
}

DesignFlag switch_flag(std::string name, std::string help, bool& on) {
  return [name = std::move(name), help = std::move(help), &on](CLI::App& app) {
    app.add_flag(name, on, help)->disable_flag_override();  // a switch: no --edge=VALUE
  };
}

DesignFlag number_flag(std::string name, std::string help, unsigned& value, unsigned min,
                       unsigned max) {
  return [name = std::move(name), help = std::move(help), &value, min, max](CLI::App& app) {
    app.add_option(name, value, help)->capture_default_str()->check(CLI::Range(min, max));
  };
}

DesignFlag choice_flag_of(std::string name, std::string help, std::vector<std::string> names,
                          std::size_t default_index, std::function<void(std::size_t)> choose) {
  return [name = std::move(name), help = std::move(help), names = std::move(names), default_index,
          choose = std::move(choose)](CLI::App& app) {
    app.add_option_function<std::string>(
           name,
           [names, choose](const std::string& given) {
             choose(static_cast<std::size_t>(std::find(names.begin(), names.end(), given) -
                                             names.begin()));
           },
           help)
        ->check(CLI::IsMember(names))
        ->default_str(names.at(default_index));
  };
}

}  // namespace csd::impl
