// validate for a mongodb server (normally a restore target) against what a backup recorded
// (ValidateOptions::recorded, required): per collection of the backup (of options.databases when
// given) the exact document count ("document_count"), the index specifications without "v" and
// "ns", by name ("indexes"), and the recorded sample documents found by _id with the same SHA-256
// of their BSON ("sample_hash"). Outcomes are named "DB.COLL". Views are not checked yet.
//
// With ValidateOptions::restore_dir, against what a restore to a time left (restore_record.hpp;
// the record must be of the same backup, else ErrorCode::usage): a collection an applied event
// touched has its count skipped ("changed by N event(s) up to T"), one renamed is checked under
// its new name, one dropped must hold no documents; indexes as recorded; a sampled document the
// events last inserted or replaced must hash as that full document, one they deleted must be
// absent, one they updated is skipped; the others as the backup recorded them.
#pragma once

#include "source/validation.hpp"

namespace lifeboat::mongodb_driver {

Result<source::ValidationReport> validate(const source::ValidateOptions& options);

}  // namespace lifeboat::mongodb_driver
