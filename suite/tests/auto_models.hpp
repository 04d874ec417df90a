// csd-suite and "model": "auto": before any check is registered, each auto
// manifest becomes the model its server shows (suite/observe/auto_model.hpp),
// or the one csd-report observed for the whole run and handed over with
// --assume-model NAME=MODEL.
#pragma once

#include <string>
#include <vector>

#include "manifest.hpp"

namespace csd::suite {

// Gives each auto manifest of `manifests` its model: the one an
// --assume-model NAME=MODEL of `assumed` names, else the one its server
// shows now (one line on stderr says which: "csd-suite: NAME: model auto:
// observed prefork: ..."). An --assume-model that names no auto manifest, or
// no model (nor unknown), is a usage error: exit 2.
void resolve_auto_models(std::vector<harness::Manifest>& manifests,
                         const std::vector<std::string>& assumed);

}  // namespace csd::suite
