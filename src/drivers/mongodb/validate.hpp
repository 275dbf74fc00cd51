// validate for a mongodb server (normally a restore target) against what a backup recorded
// (ValidateOptions::recorded, required): per collection of the backup (of options.databases when
// given) the exact document count ("document_count"), the index specifications without "v" and
// "ns", by name ("indexes"), and the recorded sample documents found by _id with the same SHA-256
// of their BSON ("sample_hash"). Outcomes are named "DB.COLL". Views are not checked yet.
#pragma once

#include "source/validation.hpp"

namespace lifeboat::mongodb_driver {

Result<source::ValidationReport> validate(const source::ValidateOptions& options);

}  // namespace lifeboat::mongodb_driver
