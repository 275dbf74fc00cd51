// The base backup of a mongodb source: every collection of every database but the server's own
// (admin, local, config), dumped in _id order on parallel connections, one entry per collection
// whose bytes are its documents' BSON one after another, cut into blocks at document boundaries
// (a document larger than a block is a block of its own) and stored deduplicated through the
// ContentSink. Options, index specifications and views go into the manifest's mongodb payload,
// with the document count and up to 16 sample hashes per collection (what validate compares).
// A collection above BaseBackupRequest::split_table_bytes (collStats size) or k_split_documents
// is dumped as several _id ranges (id_ranges.hpp), each by its own worker; its entry is the
// ranges' blocks in range order and the manifest records `ranges`, so it is still one collection
// to restore and validate.
//
// Consistency: with change streams the manifest records the stream's resume token before and
// after the dump (payload resume_token_start/stop), so that capture (next increment) can make a
// restore consistent by applying the events in between; without them (a standalone server,
// CongoDB) the dump is a copy of each collection as read, not of one moment, and the backup says
// so in a warning (docs/operations.md, "MongoDB and DocumentDB").
#pragma once

#include <memory>

#include "source/base_backup.hpp"

namespace lifeboat::mongodb_driver {

Result<std::unique_ptr<source::BaseBackup>> open_base_backup(
    const source::BaseBackupRequest& request);

}  // namespace lifeboat::mongodb_driver
