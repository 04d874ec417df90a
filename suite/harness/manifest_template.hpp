// A template manifest for a folder of submissions: one manifest with
// {submission} (the submission folder's absolute path) and {name} (the
// folder's name) wherever a string may hold them, filled in once per
// submission. A class hands in folders of code, not manifests:
//
//   {"command": ["python3", "{submission}/server.py", "-p", "{port}"], "model": "fork", ...}
//
// Each sub-folder of a submissions folder is one submission; the manifest's
// own placeholders ({host}, {port}, ...) stay for the suite to fill.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace csd::harness {

// A template that cannot be used, or a submissions folder with nothing to
// grade; what() says which and why, for the person who wrote them.
class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The template read from `file`: a JSON object that mentions {submission}
// somewhere (else every submission would run the same program). Throws
// TemplateError.
nlohmann::json read_manifest_template(const std::filesystem::path& file);

// The template with {submission} and {name} replaced in every string, keys
// left alone; a template without "name" gets the folder's name.
nlohmann::json fill_manifest_template(const nlohmann::json& manifest_template,
                                      const std::filesystem::path& submission);

// The submissions in each of `folders`: their sub-folders (hidden ones
// aside), sorted by name. Throws TemplateError for a folder that cannot be
// listed or holds none, and for two submissions of the same name.
std::vector<std::filesystem::path> submission_folders(
    const std::vector<std::filesystem::path>& folders);

// One manifest per submission, written as `out`/NAME.json; returns their
// paths in submission order. Throws TemplateError (std::filesystem_error if
// `out` cannot be written).
std::vector<std::filesystem::path> write_submission_manifests(
    const nlohmann::json& manifest_template, const std::vector<std::filesystem::path>& submissions,
    const std::filesystem::path& out);

}  // namespace csd::harness
