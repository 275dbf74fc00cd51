// open_storage: the one place that turns a repository location into a Storage, and so the one
// place above the backends that knows which exist. Everything else (repository/, engine/, cli/)
// sees only the Storage interface and its declared features (storage/storage.hpp).
//
// Locations:
//   s3://bucket/prefix?query  S3Storage (storage/s3/s3_url.hpp lists the query parameters);
//                             credentials and the default region come from `environment`
//   any other "scheme://..."  refused (ErrorCode::usage), naming the location
//   anything else             a local directory (PosixStorage), made absolute and normalised
// An empty location is ErrorCode::usage. No request is sent and nothing is created.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/storage.hpp"

namespace lifeboat {

// Looks up an environment variable (S3 credentials, AWS_REGION...); tests pass their own.
using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view name)>;

// The environment of this process.
EnvironmentLookup process_environment_lookup();

Result<std::unique_ptr<Storage>> open_storage(
    const std::string& location,
    const EnvironmentLookup& environment = process_environment_lookup());

}  // namespace lifeboat
