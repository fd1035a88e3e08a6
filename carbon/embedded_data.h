// The files of carbon/data, embedded in the binary at build time by
// carbon/embed_data.cmake. Internal to cs_carbon. Any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cs {

// The bytes of carbon/data/<name> (e.g. "codecarbon/impact.csv"), unchanged
// (BOM included); nullopt for a name that was not embedded.
std::optional<std::string_view> EmbeddedDataFile(const std::string& name);

}  // namespace cs
