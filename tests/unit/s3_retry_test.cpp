// S3Storage's retries and error reporting, against a scripted HTTP server on a loopback port:
// transient failures (503, 500, 429 SlowDown, dropped connections) are retried with backoff,
// permanent ones (403, 404 NoSuchBucket, 400) fail at once with S3's code and the object's name.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

#include "storage/s3/s3_storage.hpp"

namespace lifeboat {
namespace {

struct Scripted {
    int status = 200;  // 0: close the connection without answering
    std::string body;
    std::string headers;  // extra header lines, each ending in "\r\n"
};

// Answers each connection with the next scripted response (then 500 when the script is done),
// one request per connection.
class ScriptedServer {
  public:
    explicit ScriptedServer(std::deque<Scripted> script) : m_script(std::move(script)) {
        m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof(address);
        EXPECT_EQ(::bind(m_listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
        EXPECT_EQ(::listen(m_listener, 16), 0);
        ::getsockname(m_listener, reinterpret_cast<sockaddr*>(&address), &length);
        m_port = ntohs(address.sin_port);
        m_thread = std::thread([this] { serve(); });
    }
    ~ScriptedServer() {
        m_stop = true;
        m_thread.join();
        ::close(m_listener);
    }

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(m_port); }
    std::vector<std::string> requests() const {
        std::lock_guard lock(m_mutex);
        return m_requests;
    }

  private:
    void serve() {
        while (!m_stop) {
            pollfd p{m_listener, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int fd = ::accept(m_listener, nullptr, nullptr);
            if (fd < 0) continue;
            handle(fd);
            ::close(fd);
        }
    }

    void handle(int fd) {
        std::string request;
        char buffer[65536];
        std::size_t header_end = std::string::npos;
        std::size_t wanted = 0;
        while (true) {
            if (header_end == std::string::npos) {
                header_end = request.find("\r\n\r\n");
                if (header_end != std::string::npos) {
                    const auto at = request.find("Content-Length: ");
                    if (at != std::string::npos && at < header_end) {
                        wanted = std::stoul(request.substr(at + 16));
                    }
                }
            }
            if (header_end != std::string::npos && request.size() >= header_end + 4 + wanted) break;
            const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
            if (n <= 0) return;
            request.append(buffer, static_cast<std::size_t>(n));
        }
        Scripted response{500, "", ""};
        {
            std::lock_guard lock(m_mutex);
            m_requests.push_back(request.substr(0, request.find("\r\n")));
            if (!m_script.empty()) {
                response = m_script.front();
                m_script.pop_front();
            }
        }
        if (response.status == 0) return;  // dropped connection
        const std::string text = fmt::format(
            "HTTP/1.1 {} Scripted\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}",
            response.status, response.body.size(), response.headers, response.body);
        ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    }

    int m_listener = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    mutable std::mutex m_mutex;
    std::deque<Scripted> m_script;
    std::vector<std::string> m_requests;
    std::thread m_thread;
};

std::string error_xml(std::string_view code, std::string_view message) {
    return fmt::format("<?xml version=\"1.0\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
                       code, message);
}

std::unique_ptr<S3Storage> storage_for(const ScriptedServer& server) {
    s3::Settings settings;
    settings.endpoint = server.endpoint();
    settings.bucket = "bucket";
    settings.prefix = "prefix";
    settings.credentials = {"AK", "SK", ""};
    settings.retry.max_attempts = 5;
    settings.retry.base_delay = std::chrono::milliseconds(1);
    auto storage = S3Storage::create(std::move(settings));
    EXPECT_TRUE(storage) << storage.error().message;
    return std::move(*storage);
}

TEST(S3Retry, TransientFailuresAreRetriedUntilSuccess) {
    ScriptedServer server({{503, error_xml("ServiceUnavailable", "busy"), ""},
                           {503, error_xml("SlowDown", "slow down"), ""},
                           {200, "hello", ""}});
    auto storage = storage_for(server);
    auto read = storage->read("a/key");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(*read, "hello");
    EXPECT_EQ(storage->attempts(), 3u);
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(requests[0], "GET /bucket/prefix/a/key HTTP/1.1");
}

TEST(S3Retry, DroppedConnections500And429AreTransientToo) {
    ScriptedServer server(
        {{0, "", ""}, {500, error_xml("InternalError", "oops"), ""}, {429, "", ""}, {200, "", ""}});
    auto storage = storage_for(server);
    auto written = storage->write("k", "data", Overwrite::allow);
    ASSERT_TRUE(written) << written.error().message;
    EXPECT_EQ(storage->attempts(), 4u);
    EXPECT_EQ(server.requests().back(), "PUT /bucket/prefix/k HTTP/1.1");
}

TEST(S3Retry, GivesUpAfterMaxAttemptsWithTheLastError) {
    ScriptedServer server({{503, error_xml("SlowDown", "please"), ""},
                           {503, error_xml("SlowDown", "please"), ""},
                           {503, error_xml("SlowDown", "please"), ""},
                           {503, error_xml("SlowDown", "please"), ""},
                           {503, error_xml("SlowDown", "please reduce your request rate"), ""},
                           {200, "too late", ""}});
    auto storage = storage_for(server);
    auto read = storage->read("k");
    ASSERT_FALSE(read);
    EXPECT_EQ(storage->attempts(), 5u);
    EXPECT_EQ(read.error().code, ErrorCode::unavailable);  // exit 13, as docs/cli.md says
    EXPECT_NE(read.error().message.find("SlowDown: please reduce your request rate"),
              std::string::npos)
        << read.error().message;
}

TEST(S3Retry, AnEndpointThatRefusesConnectionsIsUnavailable) {
    // A loopback port nothing listens on: bind one, note it, close it.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
    ::close(fd);
    s3::Settings settings;
    settings.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
    settings.bucket = "bucket";
    settings.credentials = {"AK", "SK", ""};
    settings.retry.max_attempts = 3;
    settings.retry.base_delay = std::chrono::milliseconds(1);
    auto storage = S3Storage::create(std::move(settings));
    ASSERT_TRUE(storage) << storage.error().message;
    auto read = (*storage)->read("k");
    ASSERT_FALSE(read);
    EXPECT_EQ((*storage)->attempts(), 3u);
    EXPECT_EQ(read.error().code, ErrorCode::unavailable) << read.error().message;
    EXPECT_EQ(exit_status(read.error().code), 13);
}

TEST(S3Retry, PermanentErrorsFailAtOnceNamingBucketKeyAndCode) {
    ScriptedServer server({{403, error_xml("AccessDenied", "Access Denied"), ""}, {200, "no", ""}});
    auto storage = storage_for(server);
    auto read = storage->read("data/ab/cd");
    ASSERT_FALSE(read);
    EXPECT_EQ(storage->attempts(), 1u);
    EXPECT_EQ(read.error().code, ErrorCode::repository);
    EXPECT_EQ(
        read.error().message,
        "S3 GET of s3://bucket/prefix/data/ab/cd failed: HTTP 403 AccessDenied: Access Denied");
}

TEST(S3Retry, NotFoundAndBadRequestsAreNotRetried) {
    ScriptedServer server({{404, error_xml("NoSuchKey", "gone"), ""},
                           {404, error_xml("NoSuchBucket", "no bucket"), ""},
                           {400, error_xml("InvalidArgument", "bad"), ""},
                           {404, "", ""}});
    auto storage = storage_for(server);
    auto missing = storage->read("k");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, ErrorCode::not_found);
    auto no_bucket = storage->read("k");
    ASSERT_FALSE(no_bucket);
    EXPECT_EQ(no_bucket.error().code, ErrorCode::repository);
    EXPECT_NE(no_bucket.error().message.find("NoSuchBucket"), std::string::npos);
    auto bad = storage->read("k");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, ErrorCode::repository);
    auto head = storage->stat("k");  // HEAD: no body, so no code
    ASSERT_FALSE(head);
    EXPECT_EQ(head.error().code, ErrorCode::not_found);
    EXPECT_EQ(storage->attempts(), 4u);
}

TEST(S3Retry, OverwriteNeverTreats412AsConflict) {
    ScriptedServer server({{404, "", ""},  // HEAD: absent
                           {412, error_xml("PreconditionFailed", "exists"), ""}});
    auto storage = storage_for(server);
    auto written = storage->write("k", "data", Overwrite::never);
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().code, ErrorCode::conflict) << written.error().message;
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0], "HEAD /bucket/prefix/k HTTP/1.1");
    EXPECT_EQ(requests[1], "PUT /bucket/prefix/k HTTP/1.1");
}

TEST(S3Retry, CompleteMultipartUploadErrorInA200BodyFails) {
    ScriptedServer server({{200,
                            "<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
                            "</InitiateMultipartUploadResult>",
                            ""},
                           {200, "", "ETag: \"p1\"\r\n"},
                           {200, "", "ETag: \"p2\"\r\n"},
                           {200, error_xml("InternalError", "failed late"), ""},
                           {204, "", ""}});  // the abort
    auto storage = storage_for(server);
    storage->set_part_size(4);
    auto upload = storage->start_upload("big", Overwrite::allow);
    ASSERT_TRUE(upload);
    ASSERT_TRUE((*upload)->append("12345"));
    auto committed = (*upload)->commit();
    ASSERT_FALSE(committed);
    EXPECT_NE(committed.error().message.find("failed late"), std::string::npos)
        << committed.error().message;
    upload->reset();
    const auto requests = server.requests();
    ASSERT_EQ(requests.size(), 5u);
    EXPECT_EQ(requests[0], "POST /bucket/prefix/big?uploads= HTTP/1.1");
    EXPECT_EQ(requests[1], "PUT /bucket/prefix/big?partNumber=1&uploadId=u1 HTTP/1.1");
    EXPECT_EQ(requests[2], "PUT /bucket/prefix/big?partNumber=2&uploadId=u1 HTTP/1.1");
    EXPECT_EQ(requests[3], "POST /bucket/prefix/big?uploadId=u1 HTTP/1.1");
    EXPECT_EQ(requests[4], "DELETE /bucket/prefix/big?uploadId=u1 HTTP/1.1");
}

}  // namespace
}  // namespace lifeboat
