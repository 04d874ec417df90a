// Filling a template manifest in, once per submission folder.
#include "manifest_template.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>

namespace csd::harness {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::string_view kSubmission = "{submission}";
constexpr std::string_view kName = "{name}";

void replace_all(std::string& text, std::string_view what, std::string_view with) {
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
}

bool mentions(const json& value, std::string_view placeholder) {
  if (value.is_string())
    return value.get_ref<const std::string&>().find(placeholder) != std::string::npos;
  if (value.is_structured())
    return std::any_of(value.begin(), value.end(),
                       [&](const json& item) { return mentions(item, placeholder); });
  return false;
}

void fill(json& value, std::string_view submission, std::string_view name) {
  if (value.is_string()) {
    auto& text = value.get_ref<std::string&>();
    replace_all(text, kSubmission, submission);
    replace_all(text, kName, name);
  } else if (value.is_structured()) {
    for (auto& item : value) fill(item, submission, name);
  }
}

}  // namespace

json read_manifest_template(const fs::path& file) {
  std::ifstream in(file);
  if (!in)
    throw TemplateError(fmt::format("{}: cannot read it", file.string()));
  json manifest_template;
  try {
    manifest_template = json::parse(in);
  } catch (const json::parse_error& e) {
    throw TemplateError(fmt::format("{}: invalid JSON: {}", file.string(), e.what()));
  }
  if (!manifest_template.is_object())
    throw TemplateError(fmt::format("{}: must hold one JSON object, a manifest", file.string()));
  if (!mentions(manifest_template, kSubmission))
    throw TemplateError(fmt::format(
        "{}: no {{submission}} in it, so every submission would run the same program "
        "(e.g. \"command\": [\"python3\", \"{{submission}}/server.py\", \"-p\", \"{{port}}\"])",
        file.string()));
  if (manifest_template.contains("name") && !mentions(manifest_template["name"], kName))
    throw TemplateError(
        fmt::format("{}: \"name\" without {{name}}, so every submission would have the same name "
                    "(leave \"name\" out: each takes its folder's name)",
                    file.string()));
  return manifest_template;
}

json fill_manifest_template(const json& manifest_template, const fs::path& submission) {
  json manifest = manifest_template;
  if (!manifest.contains("name"))
    manifest["name"] = std::string(kName);
  fill(manifest, fs::absolute(submission).lexically_normal().string(),
       submission.filename().string());
  return manifest;
}

std::vector<fs::path> submission_folders(const std::vector<fs::path>& folders) {
  std::vector<fs::path> submissions;
  std::set<std::string> names;
  for (const auto& folder : folders) {
    std::error_code error;
    std::vector<fs::path> here;
    for (fs::directory_iterator it(folder, error), end; !error && it != end; it.increment(error)) {
      const std::string name = it->path().filename().string();
      if (it->is_directory() && !name.starts_with("."))
        here.push_back(it->path());
    }
    if (error)
      throw TemplateError(fmt::format("{}: cannot list it: {}", folder.string(), error.message()));
    if (here.empty())
      throw TemplateError(fmt::format(
          "{}: no submission in it (with --template, each sub-folder is one)", folder.string()));
    std::sort(here.begin(), here.end());
    for (auto& submission : here) {
      if (!names.insert(submission.filename().string()).second)
        throw TemplateError(fmt::format("two submissions named {}: {} is the second",
                                        submission.filename().string(), submission.string()));
      submissions.push_back(std::move(submission));
    }
  }
  return submissions;
}

std::vector<fs::path> write_submission_manifests(const json& manifest_template,
                                                 const std::vector<fs::path>& submissions,
                                                 const fs::path& out) {
  fs::create_directories(out);
  std::vector<fs::path> written;
  written.reserve(submissions.size());
  for (const auto& submission : submissions) {
    const json manifest = fill_manifest_template(manifest_template, submission);
    const fs::path file = out / (submission.filename().string() + ".json");
    std::ofstream stream(file);
    stream << manifest.dump(2) << "\n";
    if (!stream.flush())
      throw TemplateError(fmt::format("{}: cannot write it", file.string()));
    written.push_back(file);
  }
  return written;
}

}  // namespace csd::harness
