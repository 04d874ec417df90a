// The system calls a server's tasks sleep in, by what they tell of its
// design (waiting for a connection, reading one, waiting on a lock), and the
// descriptors a sleeping call waits on, read from outside: its arguments in
// /proc/PID/task/TID/syscall, the poll and select sets in its memory, an
// epoll instance's targets in /proc/PID/fdinfo.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "procfs.hpp"

namespace csd::observe {

enum class CallKind {
  accept,     // accept, accept4
  multiplex,  // select, pselect6, poll, ppoll, epoll_wait, epoll_pwait(2)
  read,       // read, readv, recvfrom, recvmsg, recvmmsg, pread64
  lock,       // futex, fcntl (F_SETLKW), flock, semop, semtimedop
  other,      // anything else (wait4, nanosleep, rt_sigsuspend, ...)
};

CallKind kind_of_call(long number);

// "accept4", "epoll_wait", ...; "syscall N" for one this table does not name.
std::string call_name(long number);

// The multiplexer family a call belongs to, as the models name it: "select"
// (select, pselect6), "poll" (poll, ppoll), "epoll"; empty for any other call.
std::string multiplexer_family(long number);
std::string multiplexer_family(std::string_view call);  // by its call_name()

// The descriptors a task asleep in `call` waits on, where the call names
// them: its first argument (accept, read, recv*), every descriptor of a poll
// or select set (read from the task's memory: the same access as
// /proc/PID/syscall), or every target of an epoll instance. Empty for a call
// that names none (futex, wait4) or when they cannot be read. The memory and
// the descriptor table are the process's, whichever of its threads sleeps.
std::vector<int> waited_descriptors(pid_t pid, const harness::SyscallState& call);

}  // namespace csd::observe
