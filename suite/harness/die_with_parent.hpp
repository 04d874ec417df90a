// A Boost.Process v2 initializer that ties a child's life to ours: the
// kernel SIGKILLs the child when we die, even by SIGKILL. For the programs
// we start that must never outlive us (csd-guard under the suite, csd-suite
// under csd-report).
#pragma once

#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/system/error_code.hpp>

#include <cerrno>
#include <csignal>
#include <filesystem>

#ifndef CLOSE_RANGE_CLOEXEC
#include <linux/close_range.h>
#endif

namespace csd::harness {

// Runs in the forked child just before exec (on_exec_setup): only
// async-signal-safe calls here.
struct DieWithParent {
  pid_t parent = ::getpid();

  template <typename Launcher>
  boost::system::error_code on_exec_setup(Launcher& /*launcher*/,
                                          const std::filesystem::path& /*exe*/,
                                          const char* const*& /*argv*/) const {
    // PR_SET_PDEATHSIG is tied to the forking *thread*: fork from a thread
    // that lives as long as the child should.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
      return {errno, boost::system::system_category()};
    // We may have died between fork and prctl; then nobody would ever signal.
    if (::getppid() != parent)
      return {ESRCH, boost::system::system_category()};
    // Boost 1.81's close_all() skips the descriptors below its own error pipe,
    // so a descriptor of ours without O_CLOEXEC (a client socket, say) would
    // leak into the child. Mark them all close-on-exec; the error pipe stays
    // open until exec, as Boost needs.
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
      return {errno, boost::system::system_category()};
    return {};
  }
};

}  // namespace csd::harness
