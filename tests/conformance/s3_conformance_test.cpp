// S3Storage: the shared Storage conformance suite against a real S3 server, s3rver (a Node
// implementation of the S3 REST API, version pinned in tests/s3/package-lock.json and installed
// by scripts/install-deps.sh), plus a cross-check with an independent client (s3cmd).
//
// One s3rver process serves the whole test binary: it is started on first use on a free loopback
// port with its data in a temporary directory, and killed when the tests end. Each test works
// under its own prefix of one bucket. Without node or the package the tests are skipped.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "conformance/storage_conformance.hpp"
#include "storage/s3/s3_storage.hpp"

namespace lifeboat::conformance {
namespace {

constexpr std::string_view k_bucket = "lifeboat-test";
constexpr std::string_view k_credential = "S3RVER";  // s3rver's built-in account

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

bool on_path(const std::string& program) {
    return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

// The s3rver process shared by all tests; see the file comment.
class S3rver {
  public:
    static S3rver& instance() {
        static S3rver server;
        return server;
    }

    // Starts the server if needed; the reason it cannot run otherwise.
    std::string ensure_started() {
        std::lock_guard lock(m_mutex);
        if (m_pid > 0 || !m_unavailable.empty()) return m_unavailable;
        const fs::path script =
            fs::path(LIFEBOAT_SOURCE_DIR) / "tests/s3/node_modules/s3rver/bin/s3rver.js";
        if (!on_path("node")) return m_unavailable = "node is not installed";
        if (!fs::exists(script)) {
            return m_unavailable = "s3rver is not installed (run `npm ci --prefix tests/s3`)";
        }
        auto directory = TempDirectory::create(fs::temp_directory_path(), "lb-s3rver-");
        if (!directory) return m_unavailable = directory.error().message;
        m_directory.emplace(std::move(*directory));
        m_port = free_port();
        const std::string port = std::to_string(m_port);
        const std::string log = (m_directory->path() / "s3rver.log").string();
        const std::string objects = (m_directory->path() / "objects").string();
        m_pid = ::fork();
        if (m_pid == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlives a crashed test program
            // Its output goes to a log beside its data. s3rver encrypts continuation tokens with
            // DES, which OpenSSL 3 only offers in its legacy provider.
            if (std::freopen(log.c_str(), "w", stdout) == nullptr ||
                ::dup2(::fileno(stdout), STDERR_FILENO) < 0) {
                ::_exit(126);
            }
            ::execlp("node", "node", "--openssl-legacy-provider", script.c_str(), "--directory",
                     objects.c_str(), "--port", port.c_str(), "--address", "127.0.0.1", "--silent",
                     "--configure-bucket", std::string(k_bucket).c_str(),
                     static_cast<char*>(nullptr));
            ::_exit(127);
        }
        // Ready when a listing of the bucket succeeds.
        auto probe = make_storage("");
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < deadline) {
            if (probe->list("")) return {};
            int status = 0;
            if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
                m_pid = -1;
                return m_unavailable = "s3rver exited at start";
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        stop_locked();
        return m_unavailable = "s3rver did not answer within 30 s";
    }

    void stop() {
        std::lock_guard lock(m_mutex);
        stop_locked();
    }

    int port() const { return m_port; }

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(m_port); }

    std::unique_ptr<S3Storage> make_storage(const std::string& prefix) const {
        s3::Settings settings;
        settings.endpoint = endpoint();
        settings.bucket = std::string(k_bucket);
        settings.prefix = prefix;
        settings.style = s3::AddressingStyle::path;
        settings.credentials = {std::string(k_credential), std::string(k_credential), ""};
        settings.retry.max_attempts = 3;
        settings.retry.base_delay = std::chrono::milliseconds(10);
        auto storage = S3Storage::create(std::move(settings));
        return storage ? std::move(*storage) : nullptr;
    }

  private:
    S3rver() = default;
    ~S3rver() { stop_locked(); }

    void stop_locked() {
        if (m_pid > 0) {
            ::kill(m_pid, SIGTERM);
            int status = 0;
            ::waitpid(m_pid, &status, 0);
            m_pid = -1;
        }
        m_directory.reset();
    }

    std::mutex m_mutex;
    pid_t m_pid = -1;
    int m_port = 0;
    std::string m_unavailable;
    std::optional<TempDirectory> m_directory;
};

// Kills the server when the test program ends, whatever happened in between.
class S3rverEnvironment : public ::testing::Environment {
  public:
    void TearDown() override { S3rver::instance().stop(); }
};
const auto* const k_environment = ::testing::AddGlobalTestEnvironment(new S3rverEnvironment);

std::unique_ptr<Storage> make_s3_storage(const fs::path&) {
    static std::atomic<unsigned> counter{0};
    const std::string unavailable = S3rver::instance().ensure_started();
    if (!unavailable.empty()) {
        [&] { GTEST_SKIP() << "S3 tests skipped: " << unavailable; }();
        return nullptr;
    }
    return S3rver::instance().make_storage(
        fmt::format("run-{}/test-{}", ::getpid(), counter.fetch_add(1)));
}

// s3rver writes objects in place (no temporary file and rename) and ignores If-None-Match on
// PUT, so these two contract tests cannot pass against it; S3Storage relies on AWS S3's atomic
// PUT and conditional writes for them.
const std::map<std::string, std::string> k_s3rver_gaps = {
    {"ConcurrentWritersOfTheSameKeyWithOverwriteNeverExactlyOneWins",
     "s3rver ignores If-None-Match: * on PUT, so HEAD-then-PUT races"},
    {"ConcurrentReadersWhileAKeyIsReplacedSeeOneWholeVersion",
     "s3rver overwrites object files in place, so readers can see torn objects"},
};

INSTANTIATE_TEST_SUITE_P(S3, StorageConformance,
                         ::testing::Values(StorageBackend{"s3rver", make_s3_storage,
                                                          k_s3rver_gaps}),
                         backend_name);

// --- What only S3 has ---------------------------------------------------------------------------

class S3StorageTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const std::string unavailable = S3rver::instance().ensure_started();
        if (!unavailable.empty()) GTEST_SKIP() << "S3 tests skipped: " << unavailable;
        static std::atomic<unsigned> counter{0};
        m_prefix = fmt::format("s3-run-{}/test-{}", ::getpid(), counter.fetch_add(1));
        m_storage = S3rver::instance().make_storage(m_prefix);
        ASSERT_NE(m_storage, nullptr);
    }

    S3Storage& storage() { return *m_storage; }
    const std::string& prefix() const { return m_prefix; }

    // Runs s3cmd against the server; its exit status.
    int s3cmd(const std::string& arguments) const {
        const std::string command = fmt::format(
            "s3cmd --config=/dev/null --host=127.0.0.1:{0} --host-bucket=127.0.0.1:{0} --no-ssl "
            "--region=us-east-1 --access_key={1} --secret_key={1} {2} >/dev/null 2>&1",
            S3rver::instance().port(), k_credential, arguments);
        return std::system(command.c_str());
    }

  private:
    std::string m_prefix;
    std::unique_ptr<S3Storage> m_storage;
};

TEST_F(S3StorageTest, AnIndependentClientReadsWhatWeWroteAndTheReverse) {
    if (!on_path("s3cmd")) GTEST_SKIP() << "s3cmd is not installed";
    auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-s3cmd-");
    ASSERT_TRUE(scratch) << scratch.error().message;
    const std::string ours = pattern_bytes(21, 0, 200'000) + std::string("\0end", 4);
    ASSERT_TRUE(storage().write("cross/ours", ours, Overwrite::never));
    const fs::path fetched = scratch->path() / "fetched";
    ASSERT_EQ(
        s3cmd(fmt::format("get s3://{}/{}/cross/ours {}", k_bucket, prefix(), fetched.string())),
        0);
    auto bytes = read_file(fetched);
    ASSERT_TRUE(bytes) << bytes.error().message;
    EXPECT_TRUE(*bytes == ours) << "s3cmd read " << bytes->size() << " bytes";

    const std::string theirs = pattern_bytes(22, 0, 150'000);
    const fs::path source = scratch->path() / "source";
    std::ofstream(source, std::ios::binary) << theirs;
    ASSERT_EQ(
        s3cmd(fmt::format("put {} s3://{}/{}/cross/theirs", source.string(), k_bucket, prefix())),
        0);
    auto read = storage().read("cross/theirs");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(*read == theirs) << "read " << read->size() << " bytes";
    auto listed = storage().list("cross");
    ASSERT_TRUE(listed) << listed.error().message;
    EXPECT_EQ(listed->size(), 2u);
}

TEST_F(S3StorageTest, ListingFollowsContinuationTokensAndKeepsOddKeys) {
    // s3rver pages at 1000 keys; keys with characters that need escaping in URLs and XML.
    constexpr unsigned k_count = 1'010;
    std::vector<std::thread> threads;
    std::atomic<unsigned> failures{0};
    for (unsigned t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (unsigned i = t; i < k_count; i += 4) {
                if (!storage().write(fmt::format("many/{:04}", i), "x", Overwrite::allow)) {
                    ++failures;
                }
            }
        });
    }
    for (auto& thread : threads)
        thread.join();
    ASSERT_EQ(failures.load(), 0u);
    const std::string odd = "odd/a b&c<d>\"e'f+g=h%i#j?k~l\xc3\xa9";
    ASSERT_TRUE(storage().write(odd, "odd", Overwrite::never));
    auto many = storage().list("many");
    ASSERT_TRUE(many) << many.error().message;
    EXPECT_EQ(many->size(), k_count);
    auto odd_listed = storage().list("odd");
    ASSERT_TRUE(odd_listed) << odd_listed.error().message;
    ASSERT_EQ(odd_listed->size(), 1u);
    EXPECT_EQ(odd_listed->front().key, odd);
    EXPECT_EQ(storage().read(odd).value_or("?"), "odd");
}

TEST_F(S3StorageTest, MultipartUploadsAssembleTheirPartsInOrder) {
    storage().set_part_size(5 * 1024 * 1024);
    const std::string data = pattern_bytes(23, 0, 12 * 1024 * 1024 + 17);
    ASSERT_TRUE(storage().write("multi/object", data, Overwrite::never));
    auto read = storage().read("multi/object");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(*read == data);
    auto again = storage().write("multi/object", data, Overwrite::never);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, ErrorCode::conflict) << again.error().message;
}

TEST_F(S3StorageTest, AMissingBucketIsAClearPermanentError) {
    s3::Settings settings = storage().settings();
    settings.bucket = "no-such-bucket";
    auto other = S3Storage::create(settings);
    ASSERT_TRUE(other);
    auto read = (*other)->read("config");
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().code, ErrorCode::repository) << read.error().message;
    EXPECT_NE(read.error().message.find("NoSuchBucket"), std::string::npos) << read.error().message;
    EXPECT_NE(read.error().message.find("no-such-bucket"), std::string::npos)
        << read.error().message;
    EXPECT_EQ((*other)->attempts(), 1u);
}

TEST_F(S3StorageTest, AServerWithoutUploadListingsSaysSoOnce) {
    // s3rver answers ListMultipartUploads with 501 NotImplemented: a permanent answer, not retried
    // (expire then warns and goes on; RGW lists them: rgw_conformance.cpp).
    const auto before = storage().attempts();
    auto listed = storage().list_pending_uploads();
    ASSERT_FALSE(listed);
    EXPECT_EQ(listed.error().code, ErrorCode::repository) << listed.error().message;
    EXPECT_NE(listed.error().message.find("NotImplemented"), std::string::npos)
        << listed.error().message;
    EXPECT_EQ(storage().attempts() - before, 1u);
}

}  // namespace
}  // namespace lifeboat::conformance
