// csd-unit-helper-server: a fake server whose misbehaviours the harness tests
// switch on one flag at a time. It serves nothing: it accepts and closes.
//
//   --host H --port P     listen there (without --port: do not listen)
//   --quiet               print no "listening on" / "ready" line
//   --say TEXT            print TEXT on stdout first (repeatable)
//   --say-stderr TEXT     print TEXT on stderr first (repeatable)
//   --flood BYTES         then print BYTES bytes of output (lines of 'x')
//   --exit CODE           exit with CODE right after the --say lines
//   --raise SIG           after setting up, kill itself with signal SIG
//   --ignore-term         ignore SIGTERM (children inherit it)
//   --name NAME           set its comm (prctl PR_SET_NAME)
//   --fds N               hold N extra descriptors open
//   --threads N           run N extra threads
//   --workers N           fork N children that block
//   --zombie              fork a child that exits and is never reaped; print "zombie PID"
//   --setsid-grandchild   fork a grandchild that setsid()s and is orphaned; print "grandchild PID"
//
// Lines it prints are flushed at once: its stdout is a pipe.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = -1;
  bool quiet = false;
  std::vector<std::string> say;
  std::vector<std::string> say_stderr;
  long flood = 0;
  int exit_code = -1;
  int raise_signal = 0;
  bool ignore_term = false;
  std::string name;
  int fds = 0;
  int threads = 0;
  int workers = 0;
  bool zombie = false;
  bool setsid_grandchild = false;
};

[[noreturn]] void die(const char* what) {
  (void)std::fprintf(stderr, "fake_server: %s: %s\n", what, std::strerror(errno));
  std::exit(99);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        (void)std::fprintf(stderr, "fake_server: %s needs a value\n", argv[i]);
        std::exit(98);
      }
      return argv[++i];
    };
    if (a == "--host")
      o.host = next();
    else if (a == "--port")
      o.port = std::atoi(next());
    else if (a == "--quiet")
      o.quiet = true;
    else if (a == "--say")
      o.say.emplace_back(next());
    else if (a == "--say-stderr")
      o.say_stderr.emplace_back(next());
    else if (a == "--flood")
      o.flood = std::atol(next());
    else if (a == "--exit")
      o.exit_code = std::atoi(next());
    else if (a == "--raise")
      o.raise_signal = std::atoi(next());
    else if (a == "--ignore-term")
      o.ignore_term = true;
    else if (a == "--name")
      o.name = next();
    else if (a == "--fds")
      o.fds = std::atoi(next());
    else if (a == "--threads")
      o.threads = std::atoi(next());
    else if (a == "--workers")
      o.workers = std::atoi(next());
    else if (a == "--zombie")
      o.zombie = true;
    else if (a == "--setsid-grandchild")
      o.setsid_grandchild = true;
    else {
      (void)std::fprintf(stderr, "fake_server: unknown option %s\n", argv[i]);
      std::exit(98);
    }
  }
  return o;
}

[[noreturn]] void block_forever() {
  for (;;) ::pause();  // waits for a signal that ends us; not a timed sleep
}

[[noreturn]] void serve(int listener) {
  if (listener < 0)
    block_forever();
  for (;;) {
    const int c = ::accept(listener, nullptr, nullptr);
    if (c >= 0)
      ::close(c);
  }
}

int listen_on(const Options& o) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    die("socket");
  const int one = 1;
  ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  if (::inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1)
    die("inet_pton");
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    die("bind");
  if (::listen(s, 64) != 0)
    die("listen");
  return s;
}

pid_t make_zombie() {
  const pid_t child = ::fork();
  if (child < 0)
    die("fork");
  if (child == 0)
    ::_exit(0);
  return child;  // never waited for
}

// A grandchild in its own session whose parent has exited: it escapes the
// process group and re-parents to the nearest subreaper.
pid_t make_setsid_grandchild() {
  int p[2];
  if (::pipe(p) != 0)
    die("pipe");
  const pid_t middle = ::fork();
  if (middle < 0)
    die("fork");
  if (middle == 0) {
    if (::fork() == 0) {
      ::setsid();
      const pid_t self = ::getpid();
      if (::write(p[1], &self, sizeof self) != sizeof self)
        ::_exit(1);
      ::close(p[1]);
      ::close(p[0]);
      block_forever();
    }
    ::_exit(0);
  }
  ::close(p[1]);
  ::waitpid(middle, nullptr, 0);
  pid_t grandchild = -1;
  if (::read(p[0], &grandchild, sizeof grandchild) != sizeof grandchild)
    die("read grandchild pid");
  ::close(p[0]);
  return grandchild;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (!o.name.empty())
    ::prctl(PR_SET_NAME, o.name.c_str());
  if (o.ignore_term)
    (void)std::signal(SIGTERM, SIG_IGN);
  for (const auto& line : o.say) std::printf("%s\n", line.c_str());
  (void)std::fflush(stdout);
  for (const auto& line : o.say_stderr) (void)std::fprintf(stderr, "%s\n", line.c_str());
  for (long left = o.flood; left > 0; left -= 64)
    (void)std::fputs(std::string(63, 'x').append("\n").c_str(), stdout);
  (void)std::fflush(stdout);
  if (o.exit_code >= 0)
    return o.exit_code;

  for (int i = 0; i < o.fds; ++i) {
    if (::open("/dev/null", O_RDONLY | O_CLOEXEC) < 0)
      die("open /dev/null");
  }
  for (int i = 0; i < o.threads; ++i) std::thread(block_forever).detach();
  const int listener = o.port >= 0 ? listen_on(o) : -1;
  if (o.zombie)
    std::printf("zombie %d\n", make_zombie());
  if (o.setsid_grandchild)
    std::printf("grandchild %d\n", make_setsid_grandchild());
  for (int i = 0; i < o.workers; ++i) {
    const pid_t w = ::fork();
    if (w < 0)
      die("fork");
    if (w == 0)
      serve(listener);
  }
  if (o.raise_signal != 0)
    (void)::raise(o.raise_signal);
  if (!o.quiet) {
    if (listener >= 0) {
      std::printf("listening on %s:%d\n", o.host.c_str(), o.port);
    } else {
      std::printf("ready\n");
    }
  }
  (void)std::fflush(stdout);
  serve(listener);
}
