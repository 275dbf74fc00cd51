#include "storage/s3/s3_storage.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include "storage/s3/s3_xml.hpp"

#include <openssl/evp.h>

namespace lifeboat {

using s3::HttpResponse;

namespace {

bool transient_status(const HttpResponse& response) {
    // 501 Not Implemented is an answer, not a fault: asking again changes nothing.
    if (response.status == 501) return false;
    if (response.status >= 500 || response.status == 429) return true;
    if (response.status == 400 || response.status == 409) {
        // A client too slow to send its body, or two conditional writes crossing on AWS: both
        // are worth another attempt (which, for the latter, then sees 412).
        const auto body = s3::parse_error(response.body);
        return body &&
               (body->code == "RequestTimeout" || body->code == "ConditionalRequestConflict");
    }
    return false;
}

std::chrono::milliseconds backoff(const s3::RetryPolicy& policy, int attempt) {
    thread_local std::minstd_rand t_random(std::random_device{}());
    const auto base = policy.base_delay.count();
    const auto cap = policy.max_delay.count();
    auto delay = base;
    for (int i = 1; i < attempt && delay < cap; ++i)
        delay *= 2;
    delay = std::min(delay, cap);
    if (delay <= 1) return std::chrono::milliseconds(delay);
    std::uniform_int_distribution<long long> jitter(delay / 2, delay);
    return std::chrono::milliseconds(jitter(t_random));
}

// Content-MD5: the base64 of the body's MD5 (AWS requires it on writes with object lock).
std::string content_md5(std::string_view body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    EVP_Digest(body.data(), body.size(), digest, &digest_length, EVP_md5(), nullptr);
    unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
    const int length = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_length));
    return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(length));
}

}  // namespace

// --- Upload -------------------------------------------------------------------------------------

class S3Upload final : public Upload {
  public:
    S3Upload(S3Storage& storage, std::string key, std::string object, Overwrite overwrite)
        : m_storage(storage),
          m_key(std::move(key)),
          m_object(std::move(object)),
          m_overwrite(overwrite) {}
    ~S3Upload() override { abort(); }

    Status append(std::string_view data) override {
        if (m_committed) return fail(ErrorCode::internal, "{}: append after commit", m_key);
        m_buffer.append(data);
        m_size += data.size();
        // A create that must stay one conditional PUT is buffered up to its limit.
        if (m_upload_id.empty() && m_buffer.size() <= m_storage.single_put_limit(m_overwrite)) {
            return {};
        }
        while (m_buffer.size() >= m_storage.m_part_size) {
            LB_CHECK(send_part(std::string_view(m_buffer).substr(0, m_storage.m_part_size)));
            m_buffer.erase(0, m_storage.m_part_size);
        }
        return {};
    }

    std::uint64_t size() const override { return m_size; }

    Status commit() override {
        if (m_committed) return fail(ErrorCode::internal, "{}: committed twice", m_key);
        if (m_upload_id.empty()) {
            LB_CHECK(m_storage.put_object(m_key, m_buffer, m_overwrite));
        } else {
            if (!m_buffer.empty() || m_etags.empty()) LB_CHECK(send_part(m_buffer));
            LB_CHECK(complete());
        }
        m_committed = true;
        m_buffer = std::string();
        return {};
    }

  private:
    Status start() {
        m_retention = m_storage.retention_headers(m_key);
        auto response =
            LB_TRY(m_storage.send({"POST", m_object, {{"uploads", ""}}, m_retention, {}}));
        if (response.status != 200) {
            return std::unexpected(m_storage.failure(response, "CreateMultipartUpload", m_object));
        }
        auto id = LB_TRY(s3::xml_first_text(response.body, "UploadId"));
        if (!id || id->empty()) {
            return fail(ErrorCode::repository,
                        "{}: CreateMultipartUpload of {} returned no UploadId",
                        m_storage.location(), m_key);
        }
        m_upload_id = std::move(*id);
        return {};
    }

    Status send_part(std::string_view part) {
        if (m_upload_id.empty()) LB_CHECK(start());
        const std::string number = std::to_string(m_etags.size() + 1);
        s3::HeaderList headers;
        if (m_storage.m_retention) headers.emplace_back("Content-MD5", content_md5(part));
        auto response = LB_TRY(m_storage.send(
            {"PUT", m_object, {{"partNumber", number}, {"uploadId", m_upload_id}}, headers, part}));
        if (response.status != 200) {
            return std::unexpected(m_storage.failure(response, "UploadPart", m_object));
        }
        auto etag = response.header("etag");
        if (!etag) {
            return fail(ErrorCode::repository, "{}: UploadPart {} of {} returned no ETag",
                        m_storage.location(), number, m_key);
        }
        m_etags.push_back(std::move(*etag));
        return {};
    }

    Status complete() {
        s3::HeaderList headers;
        if (m_overwrite == Overwrite::never) {
            LB_CHECK(m_storage.check_absent(m_key));
            headers.emplace_back("If-None-Match", "*");
        }
        const std::string body = s3::complete_multipart_body(m_etags);
        auto response =
            LB_TRY(m_storage.send({"POST", m_object, {{"uploadId", m_upload_id}}, headers, body}));
        // CompleteMultipartUpload may fail after a 200: the error is then in the body.
        if (response.status == 200 && !s3::parse_error(response.body)) {
            return m_retention.empty() ? Status{} : m_storage.confirm_retention(m_key, m_retention);
        }
        if (response.status == 200) response.status = 500;
        return std::unexpected(m_storage.failure(response, "CompleteMultipartUpload", m_object));
    }

    void abort() {
        if (m_upload_id.empty() || m_committed) return;
        // Best effort: an upload left behind is invisible, and lifecycle rules can expire it.
        (void)m_storage.send({"DELETE", m_object, {{"uploadId", m_upload_id}}, {}, {}});
        m_upload_id.clear();
    }

    S3Storage& m_storage;
    std::string m_key;
    std::string m_object;
    Overwrite m_overwrite;
    std::string m_buffer;
    std::uint64_t m_size = 0;
    std::string m_upload_id;
    std::vector<std::string> m_etags;
    s3::HeaderList m_retention;  // the object-lock headers it was started with
    bool m_committed = false;
};

// --- S3Storage ----------------------------------------------------------------------------------

Result<std::unique_ptr<S3Storage>> S3Storage::create(s3::Settings settings) {
    auto endpoint = LB_TRY(s3::parse_endpoint(settings.endpoint));
    if (settings.bucket.empty()) return fail(ErrorCode::usage, "S3 storage without a bucket");
    if (settings.retry.max_attempts < 1) settings.retry.max_attempts = 1;
    return std::unique_ptr<S3Storage>(new S3Storage(std::move(settings), std::move(endpoint)));
}

S3Storage::S3Storage(s3::Settings settings, s3::Endpoint endpoint)
    : m_settings(std::move(settings)),
      m_endpoint(std::move(endpoint)),
      m_location(s3::display_location(m_settings)) {
    m_transport.ca_file = m_settings.ca_file;
    m_transport.verify_tls = m_settings.tls == s3::TlsVerification::verify;
    m_transport.connect_timeout = m_settings.connect_timeout;
    m_transport.stall_timeout = m_settings.stall_timeout;
}

Result<std::string> S3Storage::object_name(const std::string& key) const {
    if (key.empty() || key.front() == '/' || key.back() == '/' ||
        key.find("..") != std::string::npos || key.find("//") != std::string::npos) {
        return fail(ErrorCode::internal, "invalid storage key '{}'", key);
    }
    return m_settings.prefix.empty() ? key : m_settings.prefix + "/" + key;
}

Result<HttpResponse> S3Storage::send(const Request& request) const {
    const std::string payload_hash = s3::sha256_hex(request.body);
    for (int attempt = 1;; ++attempt) {
        const s3::Target target =
            s3::make_target(m_settings, m_endpoint, request.object, request.query);
        const std::string date = s3::amz_date(system_clock().now());
        s3::SigningInput input{request.method, target.canonical_uri, request.query, {},
                               payload_hash,   m_settings.region};
        input.headers = {
            {"host", target.host}, {"x-amz-date", date}, {"x-amz-content-sha256", payload_hash}};
        if (!m_settings.credentials.session_token.empty()) {
            input.headers.emplace_back("x-amz-security-token",
                                       m_settings.credentials.session_token);
        }
        for (const auto& header : request.headers)
            input.headers.push_back(header);
        const s3::Signature signature = s3::sign(input, m_settings.credentials, date);
        s3::HttpRequest http{request.method, target.url, input.headers, request.body};
        http.headers.emplace_back("Authorization", signature.authorization);

        m_attempts.fetch_add(1);
        auto response = s3::perform(http, m_transport);
        const bool last = attempt >= m_settings.retry.max_attempts;
        if (!response) {
            // Still failing after every retry (or refused outright: nothing listens there) is
            // "unavailable, try again" (exit 13); a permanent fault (bad URL, certificate) is not.
            if (last || response.error().transience == s3::Transience::permanent) {
                const ErrorCode code = response.error().transience == s3::Transience::permanent
                                           ? ErrorCode::repository
                                           : ErrorCode::unavailable;
                return fail(code, "{}: {} (attempt {} of {})", m_location, response.error().message,
                            attempt, m_settings.retry.max_attempts);
            }
        } else if (last || !transient_status(*response)) {
            return std::move(*response);
        }
        std::this_thread::sleep_for(backoff(m_settings.retry, attempt));
    }
}

Error S3Storage::failure(const HttpResponse& response, std::string_view operation,
                         std::string_view object) const {
    const auto body = s3::parse_error(response.body);
    ErrorCode code = ErrorCode::repository;
    if (response.status == 404 && (!body || body->code.empty() || body->code == "NoSuchKey")) {
        code = ErrorCode::not_found;
    } else if (response.status == 412) {
        code = ErrorCode::conflict;
    } else if (transient_status(response)) {
        code = ErrorCode::unavailable;  // still throttled or failing after every retry
    }
    std::string detail = fmt::format("HTTP {}", response.status);
    if (body && !body->code.empty()) detail += " " + body->code;
    if (body && !body->message.empty()) detail += ": " + body->message;
    return Error{code, fmt::format("S3 {} of s3://{}/{} failed: {}", operation, m_settings.bucket,
                                   object, detail)};
}

Result<std::string> S3Storage::read(const std::string& key) const {
    const std::string object = LB_TRY(object_name(key));
    auto response = LB_TRY(send({"GET", object, {}, {}, {}}));
    if (response.status != 200) return std::unexpected(failure(response, "GET", object));
    return std::move(response.body);
}

Result<std::string> S3Storage::read_range(const std::string& key, std::uint64_t offset,
                                          std::size_t length) const {
    const std::string object = LB_TRY(object_name(key));
    if (length == 0) {
        const ObjectInfo info = LB_TRY(stat(key));
        if (offset > info.size) {
            return fail(ErrorCode::corrupt, "{}: object ends before byte {}", key, offset);
        }
        return std::string();
    }
    const std::string range = fmt::format("bytes={}-{}", offset, offset + length - 1);
    auto response = LB_TRY(send({"GET", object, {}, {{"Range", range}}, {}}));
    if (response.status == 416) {
        return fail(ErrorCode::corrupt, "{}: object ends before byte {}", key, offset + length);
    }
    if (response.status == 200) {  // the server ignored the range
        if (response.body.size() < offset)
            response.body.clear();
        else
            response.body = response.body.substr(offset, length);
    } else if (response.status != 206) {
        return std::unexpected(failure(response, "ranged GET", object));
    } else if (response.body.size() > length &&
               response.header("content-range")
                   .value_or("")
                   .starts_with(fmt::format("bytes {}-", offset))) {
        // Some servers (s3rver for "bytes=0-0") send more than asked, from the right offset.
        response.body.resize(length);
    }
    if (response.body.size() != length) {
        return fail(ErrorCode::corrupt, "{}: object ends before byte {}", key, offset + length);
    }
    return std::move(response.body);
}

Result<ObjectInfo> S3Storage::stat(const std::string& key) const {
    const std::string object = LB_TRY(object_name(key));
    auto response = LB_TRY(send({"HEAD", object, {}, {}, {}}));
    if (response.status != 200) return std::unexpected(failure(response, "HEAD", object));
    ObjectInfo info{key, 0, {}};
    const auto length = response.header("content-length");
    if (!length) {
        return fail(ErrorCode::repository, "S3 HEAD of s3://{}/{}: no Content-Length",
                    m_settings.bucket, object);
    }
    info.size = std::strtoull(length->c_str(), nullptr, 10);
    if (auto modified = response.header("last-modified")) {
        if (auto seconds = s3::parse_http_date(*modified))
            info.modified = Timestamp{*seconds * 1'000'000};
    }
    return info;
}

Result<std::vector<ObjectInfo>> S3Storage::list(const std::string& prefix) const {
    std::string_view folder = prefix;
    while (!folder.empty() && folder.back() == '/')
        folder.remove_suffix(1);
    if (!folder.empty() && (folder.front() == '/' || folder.find("..") != std::string_view::npos)) {
        return fail(ErrorCode::internal, "invalid storage prefix '{}'", prefix);
    }
    const std::string root = m_settings.prefix.empty() ? "" : m_settings.prefix + "/";
    const std::string wanted = root + (folder.empty() ? "" : std::string(folder) + "/");
    std::vector<ObjectInfo> out;
    std::string token;
    do {
        s3::HeaderList query = {{"list-type", "2"}, {"prefix", wanted}};
        if (!token.empty()) query.emplace_back("continuation-token", token);
        auto response = LB_TRY(send({"GET", "", query, {}, {}}));
        if (response.status != 200) {
            return std::unexpected(failure(response, "ListObjectsV2", wanted));
        }
        auto page = s3::parse_list_objects(response.body);
        if (!page) return std::unexpected(page.error().context("{}: list {}", m_location, wanted));
        for (auto& object : page->objects) {
            // Keys ending in '/' are "folder" markers some tools create, not objects.
            if (!object.key.starts_with(wanted) || object.key.ends_with('/')) continue;
            out.push_back(ObjectInfo{object.key.substr(root.size()), object.size, object.modified});
        }
        token = page->truncated ? page->next_continuation_token : std::string();
    } while (!token.empty());
    return out;
}

Status S3Storage::check_absent(const std::string& key) const {
    auto existing = stat(key);
    if (existing) return fail(ErrorCode::conflict, "{} already exists", key);
    if (existing.error().code != ErrorCode::not_found) return std::unexpected(existing.error());
    return {};
}

Status S3Storage::put_object(const std::string& key, std::string_view data, Overwrite overwrite) {
    const std::string object = LB_TRY(object_name(key));
    s3::HeaderList headers;
    if (overwrite == Overwrite::never) {
        LB_CHECK(check_absent(key));
        headers.emplace_back("If-None-Match", "*");
    }
    for (auto& header : retention_headers(key))
        headers.push_back(std::move(header));
    if (m_retention) headers.emplace_back("Content-MD5", content_md5(data));
    auto response = LB_TRY(send({"PUT", object, {}, headers, data}));
    if (response.status == 412) return fail(ErrorCode::conflict, "{} already exists", key);
    if (response.status != 200) return std::unexpected(failure(response, "PUT", object));
    return {};
}

std::size_t S3Storage::single_put_limit(Overwrite overwrite) const {
    if (overwrite == Overwrite::never &&
        m_settings.conditional_writes == s3::ConditionalWrites::verified) {
        return std::max(m_part_size, k_conditional_put_limit);
    }
    return m_part_size;
}

Status S3Storage::write(const std::string& key, std::string_view data, Overwrite overwrite) {
    if (data.size() <= single_put_limit(overwrite)) return put_object(key, data, overwrite);
    auto upload = LB_TRY(start_upload(key, overwrite));
    LB_CHECK(upload->append(data));
    return upload->commit();
}

Result<std::unique_ptr<Upload>> S3Storage::start_upload(const std::string& key,
                                                        Overwrite overwrite) {
    std::string object = LB_TRY(object_name(key));
    return std::unique_ptr<Upload>(new S3Upload(*this, key, std::move(object), overwrite));
}

Status S3Storage::remove_if_exists(const std::string& key) {
    const std::string object = LB_TRY(object_name(key));
    s3::HeaderList query;
    if (m_retention) {
        // In a bucket with object lock (always versioned) a plain DELETE only hides the object
        // behind a delete marker and keeps every byte: the version itself must go.
        auto head = LB_TRY(send({"HEAD", object, {}, {}, {}}));
        if (head.status == 404) return {};
        if (head.status != 200) return std::unexpected(failure(head, "HEAD", object));
        if (auto version = head.header("x-amz-version-id"); version && *version != "null")
            query.emplace_back("versionId", *version);
    }
    auto response = LB_TRY(send({"DELETE", object, query, {}, {}}));
    if (response.status == 200 || response.status == 204 || response.status == 404) return {};
    const auto error = s3::parse_error(response.body);
    if (response.status == 403 && m_retention && error && error->code == "AccessDenied") {
        return fail(ErrorCode::read_only,
                    "s3://{}/{} is under object-lock retention or a legal hold ({}): the store "
                    "refuses to delete it yet",
                    m_settings.bucket, object, error->message);
    }
    return std::unexpected(failure(response, "DELETE", object));
}

s3::HeaderList S3Storage::retention_headers(const std::string& key) const {
    if (!m_retention || m_retention->exempt(key)) return {};
    // Whole seconds, rounded up: never a moment shorter than the period.
    constexpr std::int64_t k_second = 1'000'000;
    const std::int64_t micros =
        system_clock().now().micros + std::chrono::microseconds(m_retention->period).count();
    const Timestamp until{(micros + k_second - 1) / k_second * k_second};
    return {{"x-amz-object-lock-mode",
             m_retention->mode == RetentionMode::compliance ? "COMPLIANCE" : "GOVERNANCE"},
            {"x-amz-object-lock-retain-until-date", format_iso8601(until)}};
}

Status S3Storage::confirm_retention(const std::string& key, const s3::HeaderList& retention) {
    const std::string object = LB_TRY(object_name(key));
    auto head = LB_TRY(send({"HEAD", object, {}, {}, {}}));
    if (head.status != 200) return std::unexpected(failure(head, "HEAD", object));
    if (head.header("x-amz-object-lock-mode")) return {};
    // Some servers (Ceph RGW) ignore the object-lock headers of CreateMultipartUpload: the
    // retention is then set on the completed object, before anyone could delete it.
    std::string mode;
    std::string until;
    for (const auto& [name, value] : retention) {
        if (name == "x-amz-object-lock-mode") mode = value;
        if (name == "x-amz-object-lock-retain-until-date") until = value;
    }
    const std::string body = fmt::format(
        "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>{}</Mode>"
        "<RetainUntilDate>{}</RetainUntilDate></Retention>",
        mode, until);
    auto response = LB_TRY(
        send({"PUT", object, {{"retention", ""}}, {{"Content-MD5", content_md5(body)}}, body}));
    if (response.status == 200 || response.status == 204) return {};
    return std::unexpected(failure(response, "PutObjectRetention", object));
}

Result<bool> S3Storage::bucket_lock_enabled() const {
    auto response = LB_TRY(send({"GET", "", {{"object-lock", ""}}, {}, {}}));
    const auto error = s3::parse_error(response.body);
    if (response.status == 404 && error && error->code == "ObjectLockConfigurationNotFoundError")
        return false;
    // A server without object lock may answer anything else: a listing, 400, 501.
    if (response.status != 200) {
        if (response.status == 403 || (response.status >= 500 && response.status != 501))
            return std::unexpected(failure(response, "GetObjectLockConfiguration", ""));
        return false;
    }
    auto enabled = s3::xml_first_text(response.body, "ObjectLockEnabled");
    return enabled && *enabled && **enabled == "Enabled";
}

Status S3Storage::set_legal_hold(const std::string& key, LegalHold hold) {
    const std::string object = LB_TRY(object_name(key));
    const std::string body = fmt::format(
        "<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>{}</Status>"
        "</LegalHold>",
        hold == LegalHold::on ? "ON" : "OFF");
    auto response = LB_TRY(
        send({"PUT", object, {{"legal-hold", ""}}, {{"Content-MD5", content_md5(body)}}, body}));
    if (response.status == 200 || response.status == 204) return {};
    return std::unexpected(failure(response, "PutObjectLegalHold", object));
}

Result<std::vector<PendingUpload>> S3Storage::list_pending_uploads() const {
    const std::string root = m_settings.prefix.empty() ? "" : m_settings.prefix + "/";
    std::vector<PendingUpload> out;
    std::string key_marker;
    std::string id_marker;
    do {
        s3::HeaderList query = {{"uploads", ""}, {"prefix", root}};
        if (!key_marker.empty()) {
            query.emplace_back("key-marker", key_marker);
            if (!id_marker.empty()) query.emplace_back("upload-id-marker", id_marker);
        }
        auto response = LB_TRY(send({"GET", "", query, {}, {}}));
        if (response.status != 200) {
            return std::unexpected(failure(response, "ListMultipartUploads", root));
        }
        auto page = s3::parse_list_multipart_uploads(response.body);
        if (!page) {
            return std::unexpected(page.error().context("{}: list uploads {}", m_location, root));
        }
        for (auto& upload : page->uploads) {
            if (!upload.key.starts_with(root) || upload.key.size() == root.size()) continue;
            out.push_back(PendingUpload{upload.key.substr(root.size()), std::move(upload.upload_id),
                                        upload.initiated});
        }
        // A server that says "truncated" without moving the marker would loop forever.
        if (page->truncated && page->next_key_marker == key_marker &&
            page->next_upload_id_marker == id_marker) {
            return fail(ErrorCode::repository, "{}: ListMultipartUploads does not advance at '{}'",
                        m_location, key_marker);
        }
        key_marker = page->truncated ? page->next_key_marker : std::string();
        id_marker = page->truncated ? page->next_upload_id_marker : std::string();
    } while (!key_marker.empty());
    return out;
}

Status S3Storage::abort_pending_upload(const PendingUpload& upload) {
    const std::string object = LB_TRY(object_name(upload.key));
    auto response = LB_TRY(send({"DELETE", object, {{"uploadId", upload.upload_id}}, {}, {}}));
    if (response.status == 200 || response.status == 204 || response.status == 404) return {};
    return std::unexpected(failure(response, "AbortMultipartUpload", object));
}

Status S3Storage::create_bucket(BucketLock lock) {
    std::string body;
    if (m_settings.region != "us-east-1") {
        body = "<CreateBucketConfiguration><LocationConstraint>" +
               s3::xml_escape(m_settings.region) +
               "</LocationConstraint></CreateBucketConfiguration>";
    }
    s3::HeaderList headers;
    if (lock == BucketLock::on) headers.emplace_back("x-amz-bucket-object-lock-enabled", "true");
    auto response = LB_TRY(send({"PUT", "", {}, headers, body}));
    if (response.status == 200) return {};
    const auto error = s3::parse_error(response.body);
    if (response.status == 409 && error && error->code == "BucketAlreadyOwnedByYou") return {};
    return std::unexpected(failure(response, "CreateBucket", ""));
}

}  // namespace lifeboat
