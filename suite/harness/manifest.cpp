// Manifest loading. Every problem becomes a ManifestError naming the file and
// the field, because the person reading it is fixing a JSON file by hand.
#include "manifest.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>

#include "run.hpp"

namespace csd::harness {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kFileField = "(file)";
const std::vector<std::string> kPlaceholders{"host", "port", "workers", "backlog"};
const std::vector<std::string> kFields{"name",  "command",       "protocol", "model", "workers",
                                       "ready", "accept_wakeup", "nofile",   "ipv6",  "limits"};

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : std::string(sep)) + item;
  return out;
}

// A manifest-reading context: the path every error names.
class Reader {
 public:
  explicit Reader(fs::path path) : path_(std::move(path)) {}

  [[noreturn]] void fail(std::string_view field, const std::string& problem) const {
    throw ManifestError(path_, std::string(field), problem);
  }

  json parse() const {
    std::ifstream in(path_);
    if (!in)
      fail(kFileField, fmt::format("cannot read: {}", std::strerror(errno)));
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad())
      fail(kFileField, fmt::format("cannot read: {}", std::strerror(errno)));
    try {
      return json::parse(text.str());
    } catch (const json::parse_error& e) {
      fail(kFileField, fmt::format("invalid JSON: {}", e.what()));
    }
  }

  void check_known_fields(const json& doc) const {
    if (!doc.is_object())
      fail(kFileField, "must hold one JSON object");
    for (const auto& [key, value] : doc.items()) {
      const bool known = std::find(kFields.begin(), kFields.end(), key) != kFields.end();
      // "description" and "x-..." are for people and other tools; anything
      // else unknown is most likely a typo of a field we would then miss.
      const bool free_form = key == "description" || key.rfind("x-", 0) == 0;
      if (!known && !free_form) {
        fail(key, fmt::format("unknown field (known: {}; free-form: description, x-*)",
                              join(kFields, ", ")));
      }
    }
  }

  std::string name(const json& doc) const {
    if (!doc.contains("name"))
      fail("name", "missing");
    const auto& v = doc.at("name");
    if (!v.is_string() || v.get<std::string>().empty())
      fail("name", "must be a non-empty string");
    return v.get<std::string>();
  }

  std::vector<std::string> command(const json& doc) const {
    if (!doc.contains("command"))
      fail("command", "missing");
    const auto& v = doc.at("command");
    if (!v.is_array())
      fail("command", "must be an array of strings, e.g. [\"prog\", \"-p\", \"{port}\"]");
    if (v.empty())
      fail("command", "is empty");
    std::vector<std::string> argv;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string())
        fail("command", fmt::format("item {} is not a string: {}", i, v[i].dump()));
      argv.push_back(v[i].get<std::string>());
    }
    if (argv[0].empty())
      fail("command", "item 0 (the program) is empty");
    for (std::size_t i = 0; i < argv.size(); ++i) check_placeholders(argv[i], i);
    return argv;
  }

  WireProtocol protocol(const json& doc) const {
    if (!doc.contains("protocol"))
      return WireProtocol::size;
    const auto& v = doc.at("protocol");
    if (v == "size")
      return WireProtocol::size;
    if (v == "echo")
      return WireProtocol::echo;
    fail("protocol", fmt::format("must be \"size\" or \"echo\", not {}", v.dump()));
  }

  std::string model(const json& doc) const {
    // Absent means "other": only the design-independent checks apply.
    if (!doc.contains("model"))
      return "other";
    const auto& v = doc.at("model");
    auto models = known_models();
    models.emplace_back(kAutoModel);
    if (v.is_string() &&
        std::find(models.begin(), models.end(), v.get<std::string>()) != models.end()) {
      return v.get<std::string>();
    }
    fail("model", fmt::format("unknown model {} (known: {})", v.dump(), join(models, ", ")));
  }

  int workers(const json& doc, bool required) const {
    if (!doc.contains("workers")) {
      if (required)
        fail("workers", "missing, but the command uses {workers}");
      return 0;
    }
    const auto& v = doc.at("workers");
    // is_number_integer() is false for 2.5 and for "4"; booleans are not numbers in nlohmann.
    if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > 100000) {
      fail("workers", fmt::format("must be a positive integer, not {}", v.dump()));
    }
    return static_cast<int>(v.get<int64_t>());
  }

  bool ipv6(const json& doc) const {
    if (!doc.contains("ipv6"))
      return false;
    const auto& v = doc.at("ipv6");
    if (!v.is_boolean())
      fail("ipv6", fmt::format("must be true or false, not {}", v.dump()));
    return v.get<bool>();
  }

  // RLIMIT_NOFILE for the server: below 8 not even stdio and a listener fit.
  std::optional<int> nofile(const json& doc) const {
    if (!doc.contains("nofile"))
      return std::nullopt;
    const auto& v = doc.at("nofile");
    if (!v.is_number_integer() || v.get<int64_t>() < kMinNofile || v.get<int64_t>() > kMaxNofile) {
      fail("nofile", fmt::format("must be an integer from {} to {} (descriptors), not {}",
                                 kMinNofile, kMaxNofile, v.dump()));
    }
    return static_cast<int>(v.get<int64_t>());
  }

  // "limits": {"processes": 64, "memory": "512M", "file_size": "16M"}
  ServerLimits limits(const json& doc) const {
    if (!doc.contains("limits"))
      return {};
    try {
      return limits_from_json(doc.at("limits"));
    } catch (const BadLimits& e) {
      fail(e.key(), e.what());
    }
  }

  bool prints_ready_line(const json& doc) const {
    if (!doc.contains("ready"))
      return true;
    const auto& v = doc.at("ready");
    if (v == "line")
      return true;
    if (v == "port")
      return false;
    fail(
        "ready",
        fmt::format("must be \"line\" (prints 'listening on') or \"port\" (prints nothing), not {}",
                    v.dump()));
  }

  AcceptWakeup accept_wakeup(const json& doc) const {
    if (!doc.contains("accept_wakeup"))
      return AcceptWakeup::unspecified;
    const auto& v = doc.at("accept_wakeup");
    if (v == "fifo")
      return AcceptWakeup::fifo;
    if (v == "lifo")
      return AcceptWakeup::lifo;
    if (v == "all")
      return AcceptWakeup::all;
    if (v == "some")
      return AcceptWakeup::some;
    fail("accept_wakeup",
         fmt::format(
             "must be \"fifo\" (one waiter, longest idle), \"lifo\" (one waiter, the same again), "
             "\"all\" (every idle worker) or \"some\" (more than one, varying), not {}",
             v.dump()));
  }

  fs::path resolve_program(const std::string& program,
                           const std::vector<fs::path>& search_dirs) const {
    if (program.find('/') != std::string::npos)
      return resolve_path(program);
    std::vector<std::string> looked;
    for (const auto& dir : search_dirs) {
      const auto candidate = dir / program;
      if (is_executable_file(candidate))
        return fs::absolute(candidate).lexically_normal();
      looked.push_back(dir.string());
    }
    if (auto found = find_in_path(program))
      return *found;
    const char* path_env = std::getenv("PATH");
    fail("command",
         fmt::format("program '{}' not found (looked in {}{}$PATH={})", program, join(looked, ", "),
                     looked.empty() ? "" : ", then ", path_env != nullptr ? path_env : "(unset)"));
  }

 private:
  void check_placeholders(const std::string& arg, std::size_t index) const {
    std::size_t pos = 0;
    while ((pos = arg.find('{', pos)) != std::string::npos) {
      const auto close = arg.find('}', pos);
      if (close == std::string::npos)
        return;  // a lone '{' is literal text
      const auto inner = arg.substr(pos + 1, close - pos - 1);
      if (std::find(kPlaceholders.begin(), kPlaceholders.end(), inner) == kPlaceholders.end()) {
        fail("command", fmt::format("unknown placeholder {{{}}} in item {} \"{}\" (known: {{host}} "
                                    "{{port}} {{workers}} {{backlog}})",
                                    inner, index, arg));
      }
      pos = close + 1;
    }
  }

  // A relative path with a '/' is relative to the manifest, so a manifest and
  // its server can move together.
  fs::path resolve_path(const std::string& program) const {
    fs::path p(program);
    if (p.is_relative())
      p = fs::absolute(path_).parent_path() / p;
    p = p.lexically_normal();
    std::error_code ec;
    if (!fs::exists(p, ec))
      fail("command", fmt::format("program '{}' not found: no file {}", program, p.string()));
    if (!is_executable_file(p)) {
      fail("command",
           fmt::format("program '{}' is not an executable file: {}", program, p.string()));
    }
    return p;
  }

  fs::path path_;
};

bool uses_placeholder(const std::vector<std::string>& argv, std::string_view placeholder) {
  return std::any_of(argv.begin(), argv.end(), [&](const std::string& a) {
    return a.find(placeholder) != std::string::npos;
  });
}
bool uses_workers(const std::vector<std::string>& argv) {
  return uses_placeholder(argv, "{workers}");
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  for (std::size_t pos = 0; (pos = s.find(what, pos)) != std::string::npos; pos += with.size()) {
    s.replace(pos, what.size(), with);
  }
}

}  // namespace

ManifestError::ManifestError(fs::path path, std::string field, const std::string& problem)
    : std::runtime_error(fmt::format("{}: field '{}': {}", path.string(), field, problem)),
      path_(std::move(path)),
      field_(std::move(field)) {}

std::string_view to_string(WireProtocol p) { return p == WireProtocol::echo ? "echo" : "size"; }
std::ostream& operator<<(std::ostream& out, WireProtocol p) { return out << to_string(p); }

Manifest load_manifest(const fs::path& file, const std::vector<fs::path>& search_dirs) {
  const Reader reader(file);
  const json doc = reader.parse();
  reader.check_known_fields(doc);
  Manifest m;
  m.path = file;
  m.name = reader.name(doc);
  m.command = reader.command(doc);
  m.protocol = reader.protocol(doc);
  m.model = reader.model(doc);
  m.model_auto = m.model == kAutoModel;
  if (m.model_auto)
    m.model = "other";  // until the server is watched: the checks every server gets
  m.workers = reader.workers(doc, uses_workers(m.command));
  m.prints_ready_line = reader.prints_ready_line(doc);
  m.nofile = reader.nofile(doc);
  m.limits = reader.limits(doc);
  m.ipv6 = reader.ipv6(doc);
  m.traits = traits_of_model(m.model);
  m.traits.wakeup = reader.accept_wakeup(doc);
  m.command[0] = reader.resolve_program(m.command[0], search_dirs).string();
  return m;
}

void assume_model(Manifest& m, std::string_view observed) {
  const auto models = known_models();
  m.observed_model = observed;
  m.model = std::find(models.begin(), models.end(), observed) != models.end() ? observed : "other";
  const AcceptWakeup declared_wakeup = m.traits.wakeup;
  m.traits = traits_of_model(m.model);
  m.traits.wakeup = declared_wakeup;
}

std::vector<Manifest> with_ipv6_variants(std::vector<Manifest> manifests) {
  const std::size_t declared = manifests.size();
  for (std::size_t i = 0; i < declared; ++i) {
    if (!manifests[i].ipv6)
      continue;
    Manifest v6 = manifests[i];
    v6.name += kIpv6VariantSuffix;
    v6.host = "::1";
    manifests.push_back(std::move(v6));
  }
  return manifests;
}

fs::path own_bin_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

#if !defined(CSD_IMPL_DIR_FROM_BIN) || !defined(CSD_BUILD_BIN_DIR) || !defined(CSD_SOURCE_IMPL_DIR)
#error "the build defines CSD_IMPL_DIR_FROM_BIN, CSD_BUILD_BIN_DIR and CSD_SOURCE_IMPL_DIR"
#endif

fs::path default_impl_dir() {
  const fs::path bin = own_bin_dir();
  fs::path installed = (bin / CSD_IMPL_DIR_FROM_BIN).lexically_normal();
  std::error_code ec;
  if (fs::is_directory(installed, ec))
    return installed;
  if (fs::equivalent(bin, CSD_BUILD_BIN_DIR, ec))
    return CSD_SOURCE_IMPL_DIR;
  return installed;
}

std::vector<fs::path> manifest_files(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".json")
      files.push_back(entry.path());
  }
  if (ec)
    throw ManifestError(dir, std::string(kFileField),
                        fmt::format("cannot list directory: {}", ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<Manifest> load_manifest_dir(const fs::path& dir,
                                        const std::vector<fs::path>& search_dirs) {
  const std::vector<fs::path> files = manifest_files(dir);
  std::vector<Manifest> manifests;
  manifests.reserve(files.size());
  for (const auto& file : files) manifests.push_back(load_manifest(file, search_dirs));
  return manifests;
}

bool command_takes_workers(const Manifest& m) { return uses_workers(m.command); }

bool command_takes_backlog(const Manifest& m) { return uses_placeholder(m.command, "{backlog}"); }

std::vector<std::string> expand_command(const Manifest& m, std::string_view host, uint16_t port,
                                        int backlog) {
  std::vector<std::string> argv = m.command;
  for (auto& arg : argv) {
    if (arg.find("{workers}") != std::string::npos && m.workers <= 0) {
      throw std::invalid_argument(fmt::format(
          "{}: the command uses {{workers}} but no worker count was given", m.path.string()));
    }
    replace_all(arg, "{host}", host);
    replace_all(arg, "{port}", std::to_string(port));
    replace_all(arg, "{workers}", std::to_string(m.workers));
    replace_all(arg, "{backlog}", std::to_string(backlog));
  }
  return argv;
}

std::string parameter_name(std::string_view name) {
  std::string out(name);
  for (char& ch : out) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_';
    if (!ok)
      ch = '_';
  }
  if (out.empty())
    out = "_";  // gtest refuses empty parameter names
  return out;
}

}  // namespace csd::harness
