// A load whose every connection is attributed, from outside the server, to
// the worker process that holds its accepted socket (sock_diag + /proc/PID/fd).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"

namespace csd::suite {

struct AttributedLoad {
  std::map<pid_t, int64_t> per_process;  // connections served, by holder pid
  int64_t planned = 0;                   // clients x conns
  int64_t connections = 0;               // made: fewer once one failed, or past the budget's share
  int64_t unattributed = 0;              // never held by exactly one worker within the deadline
  int64_t failed = 0;                    // the exchange itself failed
  std::vector<std::string> problems;     // first few, for the failure message
};

// `clients` concurrent clients make `conns` size-protocol connections each
// (`bytes` per reply). Before sending its request, each connection waits until
// its accepted socket is held by exactly one process of the tree rooted at
// `root` other than `exclude` (the pool's parent). No client starts another
// connection once one has failed or could not be attributed (the verdict is
// known), or past half the check's budget (harness::budget::share).
AttributedLoad run_attributed_load(const client::Target& target, pid_t root,
                                   std::optional<pid_t> exclude, int clients, int conns,
                                   uint64_t bytes);

}  // namespace csd::suite
