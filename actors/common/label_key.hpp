#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/labels.h>

#include <string>
#include <string_view>
#include <vector>

namespace outpost::actors {

/// A label set as one string: each name and value preceded by its length (LEB128), in the
/// order of `prometheus::Labels` (by name). The compact registries key their series by it: a
/// series costs one allocation for its labels instead of a node and two strings per label
/// (prometheus-cpp's `Family` keeps a `std::map<std::string, std::string>` for each series,
/// ~800 bytes for `edgehub_messages_sent_total`'s five labels). Any byte may appear in a name
/// or a value.
std::string encode_labels(const prometheus::Labels& labels);

/// The pairs `encode_labels` wrote, appended to `out`. A malformed key (not one
/// `encode_labels` made) stops at the first pair that does not fit.
void decode_labels(std::string_view key, std::vector<prometheus::ClientMetric::Label>& out);

} // namespace outpost::actors
