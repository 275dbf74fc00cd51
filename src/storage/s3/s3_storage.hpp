// S3Storage: a repository in an S3 bucket (AWS or any S3-compatible server), over the S3 REST API
// with AWS Signature V4. Keys map to "<prefix>/<key>" object names.
//
// How the Storage contract (storage/storage.hpp) is met:
// - Publishing is atomic because S3 PUT and CompleteMultipartUpload are: an object appears whole
//   or not at all. write() sends one PUT up to part_size (8 MiB); larger writes and Uploads go
//   through a multipart upload started when the first part_size bytes are buffered. An Upload
//   destroyed without commit() aborts its multipart upload (best effort: a crash leaves parts
//   behind, which a bucket lifecycle rule "abort incomplete multipart uploads" cleans up).
// - Overwrite::never: S3 in general has no atomic create-if-absent. We HEAD first (conflict if
//   present) and then send the PUT (or CompleteMultipartUpload) with `If-None-Match: *`, which AWS
//   S3 and Ceph RGW honour atomically on PUT (412 -> conflict). On a server that ignores that
//   header, two writers racing between HEAD and PUT can both succeed, the last one winning. With
//   conditional_writes=verified (s3::ConditionalWrites) creates of up to k_conditional_put_limit
//   bytes are sent as one PUT, never multipart (RGW ignores the header on
//   CompleteMultipartUpload), and create-if-absent is declared atomic.
// - A missing object is ErrorCode::not_found. There are no folders: "a" is not an object just
//   because "a/b" is; list("a") returns the keys under "a/".
// - Transient failures (5xx, 429, SlowDown, timeouts, dropped connections) are retried with
//   exponential backoff and jitter (Settings::retry); others (400, 403, NoSuchBucket...) fail at
//   once with the S3 error code and message, naming the bucket and key.
// - Thread-safe: each thread sends its requests on its own curl handle.
// - Features: create-if-absent is ConditionalCreate::if_server_honours, or atomic when verified
//   (above), ranged reads are native (Range header), listing costs a request per 1,000 keys, and
//   there is no local path and no LocalFiles.
// - PendingUploads: multipart uploads under the prefix left by writers that never finished are
//   listed with ListMultipartUploads and aborted with AbortMultipartUpload.
#pragma once

#include <atomic>
#include <memory>
#include <optional>

#include "storage/s3/s3_http.hpp"
#include "storage/s3/s3_url.hpp"
#include "storage/storage.hpp"

namespace lifeboat {

class S3Storage final : public Storage, public PendingUploads, public ObjectLocking {
  public:
    static constexpr std::size_t k_default_part_size = 8 * 1024 * 1024;
    // The largest create sent as one conditional PUT when conditional writes are verified: above
    // a pack (32 MiB by default) and a WAL segment (16 MiB by default), below AWS's 5 GiB limit.
    // Such an upload buffers the whole object.
    static constexpr std::size_t k_conditional_put_limit = 64 * 1024 * 1024;

    // Validates the endpoint; no request is sent.
    static Result<std::unique_ptr<S3Storage>> create(s3::Settings settings);

    std::string location() const override { return m_location; }
    StorageFeatures features() const override {
        return {
            .conditional_create = m_settings.conditional_writes == s3::ConditionalWrites::verified
                                      ? ConditionalCreate::atomic
                                      : ConditionalCreate::if_server_honours,
            .ranged_reads = RangedReads::native,
            .listing_cost = ListingCost::per_request,
            .io_depth = 32,
            .local_path = std::nullopt};
    }
    Result<std::string> read(const std::string& key) const override;
    Result<std::string> read_range(const std::string& key, std::uint64_t offset,
                                   std::size_t length) const override;
    Result<ObjectInfo> stat(const std::string& key) const override;
    Result<std::vector<ObjectInfo>> list(const std::string& prefix) const override;
    Status write(const std::string& key, std::string_view data, Overwrite overwrite) override;
    Result<std::unique_ptr<Upload>> start_upload(const std::string& key,
                                                 Overwrite overwrite) override;
    Status remove_if_exists(const std::string& key) override;
    PendingUploads* pending_uploads() override { return this; }
    ObjectLocking* object_locking() override { return this; }

    Result<std::vector<PendingUpload>> list_pending_uploads() const override;
    Status abort_pending_upload(const PendingUpload& upload) override;

    // Object lock: GET ?object-lock says whether the bucket has it; retained objects are sent
    // with x-amz-object-lock-mode, x-amz-object-lock-retain-until-date and Content-MD5 (which
    // AWS requires with retention) on PUT, CreateMultipartUpload and UploadPart; removal HEADs
    // the key for its version and DELETEs that version (403 AccessDenied: ErrorCode::read_only).
    Result<bool> bucket_lock_enabled() const override;
    void retain_new_objects(RetentionRule rule) override { m_retention = std::move(rule); }
    Status set_legal_hold(const std::string& key, LegalHold hold) override;

    // Creates the bucket (tests, first-time setups); a bucket we already own is fine.
    enum class BucketLock { off, on };
    Status create_bucket(BucketLock lock = BucketLock::off);

    // Multipart part size (at least 5 MiB on AWS); tests lower it.
    void set_part_size(std::size_t bytes) { m_part_size = bytes; }
    std::size_t part_size() const { return m_part_size; }
    // HTTP attempts sent so far, retries included (for tests).
    std::uint64_t attempts() const { return m_attempts.load(); }
    const s3::Settings& settings() const { return m_settings; }

  private:
    friend class S3Upload;
    struct Request {
        std::string method;
        std::string object;  // full object name ("" for the bucket)
        s3::HeaderList query;
        s3::HeaderList headers;
        std::string_view body;
    };

    S3Storage(s3::Settings settings, s3::Endpoint endpoint);
    Result<std::string> object_name(const std::string& key) const;
    // Sends with retries; any HTTP response that is not transient is returned, errors included.
    Result<s3::HttpResponse> send(const Request& request) const;
    // The error for an unexpected response: S3 code and message, bucket and key.
    Error failure(const s3::HttpResponse& response, std::string_view operation,
                  std::string_view key) const;
    Status put_object(const std::string& key, std::string_view data, Overwrite overwrite);
    Status check_absent(const std::string& key) const;
    // Up to how many bytes a write with `overwrite` goes out as one PUT.
    std::size_t single_put_limit(Overwrite overwrite) const;
    // The object-lock headers for a new object named `key` (none when not retained).
    s3::HeaderList retention_headers(const std::string& key) const;
    // Makes sure a completed multipart upload carries `retention` (PutObjectRetention when the
    // server ignored the headers of CreateMultipartUpload).
    Status confirm_retention(const std::string& key, const s3::HeaderList& retention);

    s3::Settings m_settings;
    s3::Endpoint m_endpoint;
    s3::TransportOptions m_transport;
    std::string m_location;
    std::size_t m_part_size = k_default_part_size;
    mutable std::atomic<std::uint64_t> m_attempts{0};
    std::optional<RetentionRule> m_retention;
};

}  // namespace lifeboat
