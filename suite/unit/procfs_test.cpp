#include "procfs.hpp"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <future>
#include <initializer_list>
#include <thread>

#include "fd.hpp"
#include "helpers/test_support.hpp"
#include "wait.hpp"

namespace csd::harness {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using unit::ChildProcess;
using unit::helper_server;

pid_t pid_from_line(const std::optional<std::string>& line) {
  if (!line)
    return -1;
  return static_cast<pid_t>(std::stol(line->substr(line->find(' ') + 1)));
}

TEST(ReadProc, DescribesThisProcess) {
  const auto info = read_proc(::getpid());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->pid, ::getpid());
  EXPECT_EQ(info->ppid, ::getppid());
  EXPECT_EQ(info->pgid, ::getpgrp());
  EXPECT_EQ(info->session, ::getsid(0));
  EXPECT_EQ(info->state, 'R');  // it is us, reading
  EXPECT_EQ(info->comm, "csd-unit");
  EXPECT_GE(info->threads, 1);
  EXPECT_GT(info->start_ticks, 0u);
}

TEST(ReadProc, GoneProcessIsNullopt) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0)
    ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(read_proc(child));
  EXPECT_FALSE(process_cpu_ns(child));
  EXPECT_THAT(describe(child), HasSubstr("(gone)"));
  EXPECT_EQ(open_fd_count(child), -1);
  EXPECT_TRUE(thread_ids(child).empty());
  EXPECT_TRUE(process_tree(child).empty());
}

// Counted as "one more while it runs" rather than absolutely: a sanitizer
// runtime may have threads of its own, started with our first one.
TEST(ReadProc, CountsThreads) {
  std::promise<void> release;
  std::thread extra([f = release.get_future()]() mutable { f.wait(); });
  const auto during = read_proc(::getpid());
  const auto tids = thread_ids(::getpid());
  release.set_value();
  extra.join();
  ASSERT_TRUE(during);
  EXPECT_GE(during->threads, 2);
  EXPECT_THAT(tids, SizeIs(static_cast<std::size_t>(during->threads)));
  EXPECT_THAT(tids, Contains(::getpid()));  // the main thread's tid is the pid
  // join() returns when the thread has cleared its tid; the kernel drops the
  // task from /proc a moment later.
  EXPECT_TRUE(
      wait_until([&] { return read_proc(::getpid())->threads == during->threads - 1; }, 2s));
}

// The process-level status file counts the main thread only; read_proc sums
// over /proc/PID/task/*, so a busy second thread shows up in the total.
TEST(ReadProc, SumsContextSwitchesOverThreads) {
  int to_thread[2];
  int to_main[2];
  ASSERT_EQ(::pipe2(to_thread, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(to_main, O_CLOEXEC), 0);
  const Fd t_read(to_thread[0]), t_write(to_thread[1]), m_read(to_main[0]), m_write(to_main[1]);
  constexpr int kRounds = 50;
  std::promise<pid_t> tid_promise;
  std::thread ping([&] {
    tid_promise.set_value(::gettid());
    char c = 0;
    // Every round blocks in read(): a voluntary context switch of this thread.
    for (int i = 0; i <= kRounds; ++i) {
      if (::read(t_read.get(), &c, 1) != 1)
        return;
      if (i < kRounds && ::write(m_write.get(), &c, 1) != 1)
        return;
    }
  });
  const pid_t tid = tid_promise.get_future().get();
  char c = 'x';
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_EQ(::write(t_write.get(), &c, 1), 1);
    ASSERT_EQ(::read(m_read.get(), &c, 1), 1);
  }
  // Wait until the thread is blocked in its last read(): then it has switched
  // out at least once, and its count stays put while we read it.
  const auto blocked = [&] {
    std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > text.rfind(')') + 2 && text[text.rfind(')') + 2] == 'S';
  };
  ASSERT_TRUE(wait_until(blocked, 5s));
  const auto thread_status = [&](pid_t task) {
    std::ifstream in("/proc/self/task/" + std::to_string(task) + "/status");
    std::string line;
    uint64_t voluntary = 0;
    while (std::getline(in, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0)
        voluntary = std::stoull(line.substr(line.find(':') + 1));
    }
    return voluntary;
  };
  const uint64_t of_thread = thread_status(tid);
  const uint64_t of_main = thread_status(::getpid());
  const auto total = read_proc(::getpid());
  const auto tasks = read_tasks(::getpid());
  ASSERT_EQ(::write(t_write.get(), &c, 1), 1);
  ping.join();
  ASSERT_TRUE(total);
  EXPECT_GE(of_thread, 1u);
  EXPECT_GE(total->voluntary_ctxt_switches, of_thread + of_main);
  // Per task: the blocked thread is asleep, with its own count.
  const auto task =
      std::find_if(tasks.begin(), tasks.end(), [&](const TaskInfo& t) { return t.tid == tid; });
  ASSERT_TRUE(task != tasks.end()) << "read_tasks did not list thread " << tid;
  EXPECT_EQ(task->pid, ::getpid());
  EXPECT_EQ(task->state, 'S');
  EXPECT_EQ(task->voluntary_ctxt_switches, of_thread);
}

// Spins until this thread has used `cpu` of CPU time (its own clock, so a
// busy machine only makes it take longer).
void spin_for_cpu(std::chrono::nanoseconds cpu) {
  const auto used = [] {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
  };
  const auto until = used() + cpu;
  while (used() < until) {
  }
}

// The process's CPU clock counts every thread, those that ended too, to the
// nanosecond, where /proc/PID/stat counts 10 ms ticks.
TEST(ProcessCpu, CountsEndedThreads) {
  const auto before = process_cpu_ns(::getpid());
  ASSERT_TRUE(before);
  std::thread([] { spin_for_cpu(50ms); }).join();
  const auto after = process_cpu_ns(::getpid());
  ASSERT_TRUE(after);
  EXPECT_GE(*after - *before, std::chrono::nanoseconds(50ms).count());
}

TEST(CpuTicks, BusyIsPartOfTotalAndGrowsWithWork) {
  const auto before = read_cpu_ticks();
  ASSERT_TRUE(before);
  spin_for_cpu(100ms);
  const auto after = read_cpu_ticks();
  ASSERT_TRUE(after);
  EXPECT_LE(after->busy, after->total);
  EXPECT_GE(after->total, before->total);
  // 100 ms is 10 ticks at 100 Hz: a few must have been counted busy.
  EXPECT_GT(after->busy, before->busy);
  EXPECT_GT(clock_ticks_per_second(), 0);
}

TEST(NetstatCounter, FindsACounterBySectionAndName) {
  EXPECT_TRUE(read_netstat_counter("TcpExt", "ListenOverflows"));
  EXPECT_TRUE(read_netstat_counter("IpExt", "InOctets"));
  EXPECT_FALSE(read_netstat_counter("TcpExt", "NoSuchCounter"));
  EXPECT_FALSE(read_netstat_counter("TcpEx", "ListenOverflows"));  // a section's prefix is not it
}

// The side that closes first keeps the TIME_WAIT: one is counted while it lasts (60 s).
TEST(TimeWaitSockets, CountsTheActiveCloser) {
  const Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  ASSERT_EQ(::bind(listener.get(), generic, length), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);
  ASSERT_EQ(::getsockname(listener.get(), generic, &length), 0);
  {
    const Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(::connect(client.get(), generic, length), 0);
    const Fd served(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    ASSERT_TRUE(served);
  }  // the client closes first, then the server's end
  EXPECT_TRUE(wait_until(
      [] {
        const auto count = time_wait_sockets();
        return count && *count >= 1;
      },
      2s));
}

TEST(OpenFdCount, CountsDescriptors) {
  const int before = open_fd_count(::getpid());
  ASSERT_GT(before, 0);
  {
    const Fd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const Fd b(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    const Fd c(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(open_fd_count(::getpid()), before + 3);
  }
  EXPECT_EQ(open_fd_count(::getpid()), before);
}

TEST(SocketInodes, FindsOurSocket) {
  const Fd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(sock);
  struct stat st {};
  ASSERT_EQ(::fstat(sock.get(), &st), 0);
  EXPECT_THAT(socket_inodes(::getpid()), Contains(static_cast<uint64_t>(st.st_ino)));
  EXPECT_TRUE(holds_socket(::getpid(), st.st_ino));
  EXPECT_FALSE(holds_socket(::getpid(), 1));  // inode 1 is never a socket of ours
}

// comm is whatever a process calls itself: spaces and parentheses included.
// /proc/PID/stat must be split at the last ')', or every later field shifts.
TEST(ReadProc, HelperWithAwkwardNameThreadsAndDescriptors) {
  ChildProcess helper({helper_server(), "--name", "a) (b c", "--threads", "3", "--fds", "5"});
  ASSERT_TRUE(helper.read_line_starting("ready", 10s));
  const auto info = read_proc(helper.pid());
  ASSERT_TRUE(info);
  EXPECT_EQ(info->comm, "a) (b c");
  EXPECT_EQ(info->ppid, ::getpid());
  EXPECT_EQ(info->pgid, helper.pid());
  EXPECT_GE(info->threads, 4);  // main + 3, and a sanitizer's own if built with one
  EXPECT_THAT(thread_ids(helper.pid()), SizeIs(static_cast<std::size_t>(info->threads)));
  EXPECT_GE(open_fd_count(helper.pid()), 3 + 5);
  EXPECT_EQ(describe(helper.pid()).substr(0, describe(helper.pid()).rfind(' ')),
            std::to_string(helper.pid()) + " (a) (b c)");
}

TEST(ProcessTree, HelperWithWorkers) {
  ChildProcess helper({helper_server(), "--workers", "3"});
  ASSERT_TRUE(helper.read_line_starting("ready", 10s));
  const auto tree = process_tree(helper.pid());
  ASSERT_THAT(tree, SizeIs(4u));
  EXPECT_EQ(tree.front(), helper.pid());
  const auto workers = children_of(helper.pid());
  ASSERT_THAT(workers, SizeIs(3u));
  EXPECT_EQ(descendants(helper.pid()), workers);
  for (const pid_t w : workers) {
    EXPECT_TRUE(is_descendant(w, helper.pid()));
    EXPECT_TRUE(is_descendant(w, ::getpid()));
    EXPECT_FALSE(is_descendant(helper.pid(), w));
  }
  EXPECT_THAT(process_tree(::getpid()), Contains(workers.front()));
}

TEST(ProcessTree, FindsAZombie) {
  pid_t zombie = -1;
  Fd zombie_pidfd;
  {
    ChildProcess helper({helper_server(), "--zombie"});
    zombie = pid_from_line(helper.read_line_starting("zombie ", 10s));
    ASSERT_GT(zombie, 0);
    zombie_pidfd = Fd(static_cast<int>(::syscall(SYS_pidfd_open, zombie, 0)));
    ASSERT_TRUE(helper.read_line_starting("ready", 10s));
    const bool is_zombie = wait_until(
        [&] {
          const auto info = read_proc(zombie);
          return info && info->state == 'Z';
        },
        5s);
    EXPECT_TRUE(is_zombie) << describe(zombie);
    EXPECT_THAT(process_tree(helper.pid()), ElementsAre(helper.pid(), zombie));
    EXPECT_THAT(describe(zombie), HasSubstr(" Z"));
  }
  // ChildProcess reaped it (it re-parented to us when the helper died).
  EXPECT_TRUE(zombie_pidfd);
  EXPECT_EQ(::waitid(P_PIDFD, static_cast<id_t>(zombie_pidfd.get()), nullptr, WEXITED | WNOHANG),
            -1);
  EXPECT_EQ(errno, ECHILD);
}

// ---- /proc/PID/syscall and the signal masks of /proc/PID/status.

TEST(ParseSyscall, RunningBlockedAndOutsideAnyCall) {
  const auto running = parse_syscall("running\n");
  ASSERT_TRUE(running);
  EXPECT_TRUE(running->running);
  // Read from this kernel: a task asleep in read(0, ...), and one stopped in user space.
  const auto in_read = parse_syscall(
      "0 0x3 0x7ff4ad3d2000 0x20000 0x7ff4ad463b60 0xffffffff 0x0 0x7ffd1e6e4428 "
      "0x7ff4ad54c2ad\n");
  ASSERT_TRUE(in_read);
  EXPECT_FALSE(in_read->running);
  EXPECT_EQ(in_read->number, SYS_read);
  EXPECT_EQ(in_read->args[0], 3U);  // the descriptor: csd-observe reads what a task waits on
  EXPECT_EQ(in_read->args[2], 0x20000U);
  EXPECT_EQ(in_read->args[5], 0U);
  const auto outside = parse_syscall("-1 0x7ffd1e6e4428 0x7ff4ad54c2ad\n");
  ASSERT_TRUE(outside);
  EXPECT_EQ(outside->number, -1);
  EXPECT_EQ(outside->args[0], 0U);  // no call: the stack pointer is no argument
  EXPECT_FALSE(parse_syscall(""));
  EXPECT_FALSE(parse_syscall("read 0x3\n"));
}

// A forked child running `body`, killed and reaped when the test ends (and killed if
// the test process dies first). `body` must use async-signal-safe calls only: the
// test process has threads.
class ForkedChild {
 public:
  template <typename Body>
  explicit ForkedChild(Body body) : pid_(::fork()) {
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      body();
      ::_exit(0);
    }
  }
  ~ForkedChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ForkedChild(const ForkedChild&) = delete;
  ForkedChild& operator=(const ForkedChild&) = delete;
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

// True when `pid` sleeps (state S) inside one of `calls`.
bool sleeping_in(pid_t pid, std::initializer_list<long> calls) {
  const auto call = read_syscall(pid);
  const auto info = read_proc(pid);
  return call && !call->running && info && info->state == 'S' &&
         std::find(calls.begin(), calls.end(), call->number) != calls.end();
}

TEST(ReadSyscall, ChildAsleepInReadThenInSelect) {
  int to_child[2];
  ASSERT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
  const Fd read_end(to_child[0]), write_end(to_child[1]);
  const ForkedChild child([fd = read_end.get()] {
    char byte = 0;
    if (::read(fd, &byte, 1) != 1)
      ::_exit(1);
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(fd, &readable);
    ::select(fd + 1, &readable, nullptr, nullptr, nullptr);  // nothing more comes: sleeps
    ::_exit(0);
  });
  ASSERT_GT(child.pid(), 0);
  EXPECT_TRUE(wait_until([&] { return sleeping_in(child.pid(), {SYS_read}); }, 5s))
      << describe(child.pid());
  ASSERT_EQ(::write(write_end.get(), "x", 1), 1);
  // glibc 2.36 implements select() with pselect6; older ones (and other
  // architectures) call select itself.
  EXPECT_TRUE(wait_until(
      [&] {
        return sleeping_in(child.pid(), {SYS_pselect6, SYS_select});
      },
      5s))
      << describe(child.pid());
}

TEST(ReadSyscall, SpinningChildIsRunningAndGoneIsNullopt) {
  pid_t spinner = -1;
  {
    const ForkedChild child([] {
      for (volatile bool spin = true; spin;) {
      }
    });
    spinner = child.pid();
    ASSERT_GT(spinner, 0);
    EXPECT_TRUE(wait_until(
        [&] {
          const auto call = read_syscall(spinner);
          return call && call->running;
        },
        5s));
  }
  EXPECT_FALSE(read_syscall(spinner));
  EXPECT_FALSE(read_signal_masks(spinner));
}

TEST(ParseSignalMasks, BitNMinusOneIsSignalN) {
  // As this kernel prints them: SIGUSR1 (10) is bit 9, 0x200.
  const auto masks = parse_signal_masks(
      "Name:\tcsd-pselect\nSigQ:\t1/96365\nSigPnd:\t0000000000000800\n"
      "ShdPnd:\t0000000000000200\nSigBlk:\t0000000000000200\nSigIgn:\t0000000000000001\n"
      "SigCgt:\t8000000000000200\n");
  ASSERT_TRUE(masks);
  EXPECT_TRUE(masks->shared_pending.has(SIGUSR1));
  EXPECT_TRUE(masks->pending.has(SIGUSR2));  // 0x800: bit 11, signal 12
  EXPECT_FALSE(masks->pending.has(SIGUSR1));
  EXPECT_TRUE(masks->is_pending(SIGUSR1));
  EXPECT_TRUE(masks->blocked.has(SIGUSR1));
  EXPECT_FALSE(masks->blocked.has(SIGUSR2));
  EXPECT_TRUE(masks->ignored.has(SIGHUP));
  EXPECT_TRUE(masks->caught.has(SIGUSR1));
  EXPECT_TRUE(masks->caught.has(64));
  EXPECT_FALSE(masks->caught.has(0));
  EXPECT_FALSE(masks->caught.has(65));
  EXPECT_FALSE(parse_signal_masks("SigPnd:\t0000000000000000\n"));  // the others missing
  EXPECT_FALSE(parse_signal_masks("SigPnd:\tzz\nShdPnd:\t0\nSigBlk:\t0\nSigIgn:\t0\nSigCgt:\t0\n"));
}

extern "C" void ignore_usr2(int /*sig*/) {}

TEST(ReadSignalMasks, ChildBlockingCatchingAndIgnoring) {
  int to_child[2];
  ASSERT_EQ(::pipe2(to_child, O_CLOEXEC), 0);
  const Fd read_end(to_child[0]), write_end(to_child[1]);
  const ForkedChild child([fd = read_end.get()] {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    ::sigprocmask(SIG_BLOCK, &block, nullptr);
    struct sigaction caught {};
    caught.sa_handler = ignore_usr2;
    ::sigaction(SIGUSR2, &caught, nullptr);
    ::signal(SIGHUP, SIG_IGN);
    char byte = 0;
    [[maybe_unused]] const ssize_t n = ::read(fd, &byte, 1);  // sleeps: nothing comes
    ::_exit(0);
  });
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(wait_until([&] { return sleeping_in(child.pid(), {SYS_read}); }, 5s));
  // kill() signals the process (ShdPnd); tgkill() one thread (SigPnd).
  ASSERT_EQ(::kill(child.pid(), SIGUSR1), 0);
  ASSERT_EQ(::syscall(SYS_tgkill, child.pid(), child.pid(), SIGUSR2), 0);
  std::optional<SignalMasks> masks;
  EXPECT_TRUE(wait_until(
      [&] {
        masks = read_signal_masks(child.pid());
        return masks && masks->shared_pending.has(SIGUSR1) && masks->pending.has(SIGUSR2);
      },
      5s));
  ASSERT_TRUE(masks);
  EXPECT_FALSE(masks->pending.has(SIGUSR1));
  EXPECT_FALSE(masks->shared_pending.has(SIGUSR2));
  EXPECT_TRUE(masks->blocked.has(SIGUSR1));
  EXPECT_TRUE(masks->blocked.has(SIGUSR2));
  EXPECT_TRUE(masks->caught.has(SIGUSR2));
  EXPECT_FALSE(masks->caught.has(SIGUSR1));
  EXPECT_TRUE(masks->ignored.has(SIGHUP));
  // Blocked signals do not interrupt the read: it still sleeps there.
  EXPECT_TRUE(sleeping_in(child.pid(), {SYS_read})) << describe(child.pid());
}

}  // namespace
}  // namespace csd::harness
