// The change-stream client (sources/mongodb/change_stream.hpp) against a scripted replica-set
// primary (tests/mongo/mock_primary.py, Debian's python3-mockupdb): what it sends, the batches and
// resume tokens it returns (postBatchResumeToken included), error 286 and DocumentDB's disabled
// change streams. Scripted replies only: no real server stores anything here. Skipped when
// /usr/bin/python3 has no mockupdb.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <signal.h>

#include "sources/mongodb/change_stream.hpp"
#include "util/fs.hpp"

namespace lifeboat {
namespace {

using namespace mongodb;

std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// One scripted primary playing `scenario`, stopped (by its pid) when the test ends.
class MockPrimary {
  public:
    explicit MockPrimary(const std::string& scenario)
        : m_dir(TempDirectory::create(fs::temp_directory_path(), "lb-mock-primary-").value()) {
        const std::string script = std::string(LIFEBOAT_TEST_DATA) + "/../mongo/mock_primary.py";
        const std::string command = fmt::format(
            "/usr/bin/python3 '{}' '{}/port' '{}' >'{}/log' 2>&1 & echo $! >'{}/pid'", script,
            m_dir.path().string(), scenario, m_dir.path().string(), m_dir.path().string());
        if (std::system(command.c_str()) != 0) return;
        // Ready once it wrote its port (it renames the file into place).
        for (int i = 0; i < 200 && !fs::exists(m_dir.path() / "port"); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (fs::exists(m_dir.path() / "port"))
            m_port = std::atoi(read_text(m_dir.path() / "port").c_str());
    }
    ~MockPrimary() {
        const int pid = std::atoi(read_text(m_dir.path() / "pid").c_str());
        if (pid > 0) ::kill(pid, SIGTERM);
    }
    int port() const { return m_port; }
    std::string uri() const {
        return fmt::format("mongodb://127.0.0.1:{}/?replicaSet=rs0&serverSelectionTimeoutMS=5000",
                           m_port);
    }
    // What it received, one "got NAME {...}" line per command.
    std::string log() const { return read_text(m_dir.path() / "log"); }

  private:
    TempDirectory m_dir;
    int m_port = 0;
};

bool has_mockupdb() {
    return std::system("/usr/bin/python3 -c 'import mockupdb' >/dev/null 2>&1") == 0;
}

std::string operation_type(const Bson& event) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, event.get(), "operationType") && BSON_ITER_HOLDS_UTF8(&it))
        return bson_iter_utf8(&it, nullptr);
    return {};
}

TEST(MongoChangeStream, ReadsBatchesWithTheirResumeTokens) {
    if (!has_mockupdb()) GTEST_SKIP() << "python3-mockupdb is not installed";
    MockPrimary primary("events");
    ASSERT_GT(primary.port(), 0) << primary.log();
    auto client = Client::connect(primary.uri(), {});
    ASSERT_TRUE(client) << client.error().message << "\n" << primary.log();
    {
        auto stream = ChangeStream::open(*client, {.resume_after_json = R"({"_data": "82000000"})",
                                                   .max_await = std::chrono::milliseconds(100)});
        ASSERT_TRUE(stream) << stream.error().message;
        // A batch is everything the server has now: the aggregate's first batch and the
        // getMores after it until one comes back empty.
        auto first = stream->next_batch(100);
        ASSERT_TRUE(first) << first.error().message << "\n" << primary.log();
        ASSERT_EQ(first->events.size(), 3u) << primary.log();
        EXPECT_EQ(operation_type(first->events[0]), "insert");
        EXPECT_EQ(operation_type(first->events[1]), "update");
        EXPECT_EQ(operation_type(first->events[2]), "delete");
        EXPECT_NE(first->resume_token_json.find("82000003"), std::string::npos)
            << first->resume_token_json;
        // A quiet stream's token is the server's postBatchResumeToken.
        auto quiet = stream->next_batch(100);
        ASSERT_TRUE(quiet) << quiet.error().message;
        EXPECT_TRUE(quiet->events.empty());
        EXPECT_NE(quiet->resume_token_json.find("82000003"), std::string::npos)
            << quiet->resume_token_json;
    }
    const std::string log = primary.log();
    EXPECT_NE(log.find(R"("allChangesForCluster": true)"), std::string::npos) << log;
    EXPECT_NE(log.find(R"("resumeAfter": {"_data": "82000000"})"), std::string::npos) << log;
    EXPECT_NE(log.find("got getMore"), std::string::npos) << log;
    EXPECT_NE(log.find("got killCursors"), std::string::npos) << "closed when destroyed\n" << log;
}

TEST(MongoChangeStream, TheCurrentPositionIsThePostBatchResumeToken) {
    if (!has_mockupdb()) GTEST_SKIP() << "python3-mockupdb is not installed";
    MockPrimary primary("quiet");
    ASSERT_GT(primary.port(), 0) << primary.log();
    auto client = Client::connect(primary.uri(), {});
    ASSERT_TRUE(client) << client.error().message;
    auto token = current_resume_token(*client);
    ASSERT_TRUE(token) << token.error().message << "\n" << primary.log();
    EXPECT_NE(token->find("82000009"), std::string::npos) << *token;
}

TEST(MongoChangeStream, HistoryLostIsOutsideTheWindow) {
    if (!has_mockupdb()) GTEST_SKIP() << "python3-mockupdb is not installed";
    MockPrimary primary("lost");
    ASSERT_GT(primary.port(), 0) << primary.log();
    auto client = Client::connect(primary.uri(), {});
    ASSERT_TRUE(client) << client.error().message;
    auto stream = ChangeStream::open(*client, {.at_operation_time_seconds = 1764475200});
    ASSERT_TRUE(stream);
    auto batch = stream->next_batch(10);
    ASSERT_FALSE(batch);
    EXPECT_EQ(batch.error().code, ErrorCode::outside_window);
    EXPECT_NE(batch.error().message.find("286"), std::string::npos) << batch.error().message;
    EXPECT_NE(primary.log().find("startAtOperationTime"), std::string::npos) << primary.log();
}

TEST(MongoChangeStream, DisabledChangeStreamsAreADatabaseError) {
    if (!has_mockupdb()) GTEST_SKIP() << "python3-mockupdb is not installed";
    MockPrimary primary("disabled");
    ASSERT_GT(primary.port(), 0) << primary.log();
    auto client = Client::connect(primary.uri(), {});
    ASSERT_TRUE(client) << client.error().message;
    auto stream = ChangeStream::open(*client, {});
    ASSERT_TRUE(stream);
    auto batch = stream->next_batch(10);
    ASSERT_FALSE(batch);
    EXPECT_EQ(batch.error().code, ErrorCode::database);
    EXPECT_NE(batch.error().message.find("modifyChangeStreams"), std::string::npos)
        << batch.error().message;
}

}  // namespace
}  // namespace lifeboat
