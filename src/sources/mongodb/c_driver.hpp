// The MongoDB C driver (libmongoc 1.23 and its libbson, from Debian), loaded the first time one
// of its functions is called rather than when the program starts: loading it brings ICU,
// libmongocrypt and the SASL plug-ins (libmongoc initialises Cyrus SASL), 12-20 MiB read from
// disk and a few milliseconds on every start, which the PostgreSQL commands (an archive_command
// runs once per WAL segment) never need.
//
// Contract: code of this library and of drivers/mongodb includes this header, never
// <mongoc/mongoc.h> or <bson/bson.h> itself, and calls the driver's functions by their own
// names: each one named below is a macro for a pointer looked up once (dlsym) at its first call
// (util/shared_library.hpp). A function of the driver used without being named here is an
// undefined reference at link time (the programs do not link the driver), so the list cannot
// fall behind the code. When the driver cannot be loaded, that first call throws
// c_driver::Unavailable (one line at the edges, util/exceptions.hpp); c_driver::load() gives the
// same failure as an Error, for callers that want to fail before any work.
#pragma once

#include <mongoc/mongoc.h>

#include "util/error.hpp"
#include "util/shared_library.hpp"

namespace lifeboat::mongodb::c_driver {

// The driver could not be loaded (not installed), or lacks a function this build needs.
using Unavailable = LibraryUnavailable;

// libmongoc, which loads libbson (and ICU, libmongocrypt, ...) as its own dependencies: dlsym on
// its handle finds libbson's functions too.
const SharedLibrary& library();

// Loads the driver if it is not loaded yet: ErrorCode::io naming the library when it cannot be.
inline Status load() {
    return library().load();
}

}  // namespace lifeboat::mongodb::c_driver

#define LB_MONGO_C_DRIVER_FUNCTION(fn) \
    LB_SHARED_LIBRARY_FUNCTION(::lifeboat::mongodb::c_driver::library(), fn)

// Every function of the driver the programs and tests call (sorted).
#define bson_append_array LB_MONGO_C_DRIVER_FUNCTION(bson_append_array)
#define bson_append_array_begin LB_MONGO_C_DRIVER_FUNCTION(bson_append_array_begin)
#define bson_append_array_end LB_MONGO_C_DRIVER_FUNCTION(bson_append_array_end)
#define bson_append_bool LB_MONGO_C_DRIVER_FUNCTION(bson_append_bool)
#define bson_append_document LB_MONGO_C_DRIVER_FUNCTION(bson_append_document)
#define bson_append_document_begin LB_MONGO_C_DRIVER_FUNCTION(bson_append_document_begin)
#define bson_append_document_end LB_MONGO_C_DRIVER_FUNCTION(bson_append_document_end)
#define bson_append_int32 LB_MONGO_C_DRIVER_FUNCTION(bson_append_int32)
#define bson_append_int64 LB_MONGO_C_DRIVER_FUNCTION(bson_append_int64)
#define bson_append_iter LB_MONGO_C_DRIVER_FUNCTION(bson_append_iter)
#define bson_append_null LB_MONGO_C_DRIVER_FUNCTION(bson_append_null)
#define bson_append_timestamp LB_MONGO_C_DRIVER_FUNCTION(bson_append_timestamp)
#define bson_append_utf8 LB_MONGO_C_DRIVER_FUNCTION(bson_append_utf8)
#define bson_as_canonical_extended_json LB_MONGO_C_DRIVER_FUNCTION(bson_as_canonical_extended_json)
#define bson_as_relaxed_extended_json LB_MONGO_C_DRIVER_FUNCTION(bson_as_relaxed_extended_json)
#define bson_concat LB_MONGO_C_DRIVER_FUNCTION(bson_concat)
#define bson_copy LB_MONGO_C_DRIVER_FUNCTION(bson_copy)
#define bson_copy_to_excluding_noinit LB_MONGO_C_DRIVER_FUNCTION(bson_copy_to_excluding_noinit)
#define bson_decimal128_to_string LB_MONGO_C_DRIVER_FUNCTION(bson_decimal128_to_string)
#define bson_destroy LB_MONGO_C_DRIVER_FUNCTION(bson_destroy)
#define bson_free LB_MONGO_C_DRIVER_FUNCTION(bson_free)
#define bson_get_data LB_MONGO_C_DRIVER_FUNCTION(bson_get_data)
#define bson_init_static LB_MONGO_C_DRIVER_FUNCTION(bson_init_static)
#define bson_iter_array LB_MONGO_C_DRIVER_FUNCTION(bson_iter_array)
#define bson_iter_as_int64 LB_MONGO_C_DRIVER_FUNCTION(bson_iter_as_int64)
#define bson_iter_bool LB_MONGO_C_DRIVER_FUNCTION(bson_iter_bool)
#define bson_iter_date_time LB_MONGO_C_DRIVER_FUNCTION(bson_iter_date_time)
#define bson_iter_decimal128 LB_MONGO_C_DRIVER_FUNCTION(bson_iter_decimal128)
#define bson_iter_document LB_MONGO_C_DRIVER_FUNCTION(bson_iter_document)
#define bson_iter_double LB_MONGO_C_DRIVER_FUNCTION(bson_iter_double)
#define bson_iter_find LB_MONGO_C_DRIVER_FUNCTION(bson_iter_find)
#define bson_iter_find_descendant LB_MONGO_C_DRIVER_FUNCTION(bson_iter_find_descendant)
#define bson_iter_init LB_MONGO_C_DRIVER_FUNCTION(bson_iter_init)
#define bson_iter_init_find LB_MONGO_C_DRIVER_FUNCTION(bson_iter_init_find)
#define bson_iter_key LB_MONGO_C_DRIVER_FUNCTION(bson_iter_key)
#define bson_iter_next LB_MONGO_C_DRIVER_FUNCTION(bson_iter_next)
#define bson_iter_recurse LB_MONGO_C_DRIVER_FUNCTION(bson_iter_recurse)
#define bson_iter_timestamp LB_MONGO_C_DRIVER_FUNCTION(bson_iter_timestamp)
#define bson_iter_type LB_MONGO_C_DRIVER_FUNCTION(bson_iter_type)
#define bson_iter_utf8 LB_MONGO_C_DRIVER_FUNCTION(bson_iter_utf8)
#define bson_new LB_MONGO_C_DRIVER_FUNCTION(bson_new)
#define bson_new_from_data LB_MONGO_C_DRIVER_FUNCTION(bson_new_from_data)
#define bson_new_from_json LB_MONGO_C_DRIVER_FUNCTION(bson_new_from_json)
#define bson_strfreev LB_MONGO_C_DRIVER_FUNCTION(bson_strfreev)
#define bson_validate LB_MONGO_C_DRIVER_FUNCTION(bson_validate)
#define mongoc_bulk_operation_destroy LB_MONGO_C_DRIVER_FUNCTION(mongoc_bulk_operation_destroy)
#define mongoc_bulk_operation_execute LB_MONGO_C_DRIVER_FUNCTION(mongoc_bulk_operation_execute)
#define mongoc_bulk_operation_insert_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_bulk_operation_insert_with_opts)
#define mongoc_bulk_operation_remove_one_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_bulk_operation_remove_one_with_opts)
#define mongoc_bulk_operation_replace_one_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_bulk_operation_replace_one_with_opts)
#define mongoc_bulk_operation_update_one_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_bulk_operation_update_one_with_opts)
#define mongoc_change_stream_destroy LB_MONGO_C_DRIVER_FUNCTION(mongoc_change_stream_destroy)
#define mongoc_change_stream_error_document \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_change_stream_error_document)
#define mongoc_change_stream_get_resume_token \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_change_stream_get_resume_token)
#define mongoc_change_stream_next LB_MONGO_C_DRIVER_FUNCTION(mongoc_change_stream_next)
#define mongoc_client_command_simple LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_command_simple)
#define mongoc_client_destroy LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_destroy)
#define mongoc_client_get_collection LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_get_collection)
#define mongoc_client_get_database LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_get_database)
#define mongoc_client_get_database_names_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_get_database_names_with_opts)
#define mongoc_client_new_from_uri_with_error \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_new_from_uri_with_error)
#define mongoc_client_set_appname LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_set_appname)
#define mongoc_client_set_error_api LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_set_error_api)
#define mongoc_client_watch LB_MONGO_C_DRIVER_FUNCTION(mongoc_client_watch)
#define mongoc_collection_create_bulk_operation_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_collection_create_bulk_operation_with_opts)
#define mongoc_collection_destroy LB_MONGO_C_DRIVER_FUNCTION(mongoc_collection_destroy)
#define mongoc_collection_drop_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_collection_drop_with_opts)
#define mongoc_collection_find_indexes_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_collection_find_indexes_with_opts)
#define mongoc_collection_find_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_collection_find_with_opts)
#define mongoc_collection_rename_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_collection_rename_with_opts)
#define mongoc_cursor_destroy LB_MONGO_C_DRIVER_FUNCTION(mongoc_cursor_destroy)
#define mongoc_cursor_error LB_MONGO_C_DRIVER_FUNCTION(mongoc_cursor_error)
#define mongoc_cursor_next LB_MONGO_C_DRIVER_FUNCTION(mongoc_cursor_next)
#define mongoc_database_destroy LB_MONGO_C_DRIVER_FUNCTION(mongoc_database_destroy)
#define mongoc_database_drop_with_opts LB_MONGO_C_DRIVER_FUNCTION(mongoc_database_drop_with_opts)
#define mongoc_database_find_collections_with_opts \
    LB_MONGO_C_DRIVER_FUNCTION(mongoc_database_find_collections_with_opts)
#define mongoc_init LB_MONGO_C_DRIVER_FUNCTION(mongoc_init)
#define mongoc_log_set_handler LB_MONGO_C_DRIVER_FUNCTION(mongoc_log_set_handler)
#define mongoc_uri_destroy LB_MONGO_C_DRIVER_FUNCTION(mongoc_uri_destroy)
#define mongoc_uri_has_option LB_MONGO_C_DRIVER_FUNCTION(mongoc_uri_has_option)
#define mongoc_uri_new_with_error LB_MONGO_C_DRIVER_FUNCTION(mongoc_uri_new_with_error)
#define mongoc_uri_set_option_as_int32 LB_MONGO_C_DRIVER_FUNCTION(mongoc_uri_set_option_as_int32)
