// In-process fault injection through whole engine operations (issue 11, item 7). Because every
// operation takes an opened repository, each runs here over a FaultStorage: a clean run counts
// the storage calls, then for every N in 1..count the Nth call fails. Each time the operation must
// either succeed or fail cleanly with the storage's own error category (the injected
// `unavailable`, or `repository`), and afterwards, with faults off, `verify` passes and the
// backups `list` shows restore (their files materialize, every block checked against its id).
// The *Absorbs* tests do the same per kind of fault (error, timeout, connection reset, 503
// SlowDown, short read, ENOSPC; storage/fault_storage.hpp): transient kinds, under RetryStorage,
// must be absorbed (the operation succeeds); permanent ones fail with exit category 5.
// A real PostgreSQL 15 is the source (skipped when absent); its archive_command copies WAL into a
// plain directory from which a thread of this test pushes it (wal-push, in-process) into the
// repository, as the real archive_command would.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <set>
#include <thread>

#include "drivers/postgres_physical/wal_transfer.hpp"
#include "engine/backup.hpp"
#include "engine/catalog.hpp"
#include "engine/copy.hpp"
#include "engine/expire.hpp"
#include "engine/restore.hpp"
#include "engine/verify.hpp"
#include "postgres_test_cluster.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "storage/fault_storage.hpp"
#include "storage/open_storage.hpp"
#include "storage/retry_storage.hpp"
#include "util/fs.hpp"

using namespace lifeboat;

namespace {

// Fault points beyond this many per operation are sampled evenly (said in the output).
constexpr std::uint64_t k_max_points = 18;
// The same, per kind of fault (six kinds: fewer points each keep the suite's time).
constexpr std::uint64_t k_max_points_per_kind = 4;

constexpr FaultKind k_fault_kinds[] = {
    FaultKind::error,     FaultKind::timeout,    FaultKind::connection_reset,
    FaultKind::throttled, FaultKind::short_read, FaultKind::no_space};

// Whether an operation writes: the repository of a read-only one is checked once, after all runs.
enum class Writes { yes, no };

// A repository over a FaultStorage, with the wrapper kept at hand for its counters.
struct FaultyRepository {
    repo::Repository repository;
    FaultStorage* faults;
};

// Whether a RetryStorage (retrying at once) sits above the faults, as the S3 backend's own
// retries sit above its transport.
enum class Retries { none, instant };

Result<FaultyRepository> open_faulty(const fs::path& location, FaultPlan plan,
                                     Retries retries = Retries::none) {
    auto inner = LB_TRY(open_storage(location.string()));
    auto wrapper = std::make_unique<FaultStorage>(std::move(inner), plan);
    FaultStorage* faults = wrapper.get();
    std::unique_ptr<Storage> top = std::move(wrapper);
    if (retries == Retries::instant) {
        top = std::make_unique<RetryStorage>(
            std::move(top), RetryPolicy{.attempts = 5, .sleep = [](std::chrono::milliseconds) {}});
    }
    auto opened = repo::Repository::open(std::move(top));
    if (!opened) return std::unexpected(opened.error());
    return FaultyRepository{std::move(*opened), faults};
}

// The storage category an operation may fail with when a storage call fails.
bool storage_category(ErrorCode code) {
    return code == ErrorCode::unavailable || code == ErrorCode::repository;
}

// Which N to try: all of 1..count, or `most` of them spread evenly.
std::vector<std::uint64_t> fault_points(std::uint64_t count, std::uint64_t most = k_max_points) {
    std::vector<std::uint64_t> points;
    if (count <= most) {
        for (std::uint64_t n = 1; n <= count; ++n)
            points.push_back(n);
        return points;
    }
    for (std::uint64_t i = 0; i < most; ++i)
        points.push_back(1 + i * count / most);
    return points;
}

// Figures for one kind of fault over one operation.
struct KindTally {
    std::string operation;
    FaultKind kind = FaultKind::error;
    std::uint64_t calls = 0;
    std::uint64_t injected = 0;
    std::uint64_t absorbed = 0;        // a transient fault retried, the operation succeeded
    std::uint64_t failed_cleanly = 0;  // a permanent fault, failed with the storage category
    std::uint64_t unaffected = 0;      // a permanent fault the operation could do without
    std::vector<std::string> bad;
    void print() const {
        std::printf(
            "%s, %s faults: %llu calls they may hit in a clean run; %llu injected, %llu absorbed, "
            "%llu failed cleanly, %llu without effect\n",
            operation.c_str(), std::string(fault_kind_name(kind)).c_str(),
            static_cast<unsigned long long>(calls), static_cast<unsigned long long>(injected),
            static_cast<unsigned long long>(absorbed),
            static_cast<unsigned long long>(failed_cleanly),
            static_cast<unsigned long long>(unaffected));
        std::fflush(stdout);
    }
};

struct Tally {
    std::string operation;
    std::uint64_t calls = 0;
    std::uint64_t tried = 0;
    std::uint64_t succeeded = 0;
    std::uint64_t failed_cleanly = 0;
    std::vector<std::string> bad;  // wrong category, or damage found afterwards
    void print() const {
        std::printf(
            "%s: %llu storage calls in a clean run; %llu fault points tried%s, %llu "
            "survived (%llu failed cleanly, %llu succeeded)\n",
            operation.c_str(), static_cast<unsigned long long>(calls),
            static_cast<unsigned long long>(tried), tried < calls ? " (sampled evenly)" : "",
            static_cast<unsigned long long>(failed_cleanly + succeeded),
            static_cast<unsigned long long>(failed_cleanly),
            static_cast<unsigned long long>(succeeded));
        std::fflush(stdout);
    }
};

class EngineFaultTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!pgtest::TestCluster::available()) return;
        auto cluster = pgtest::TestCluster::init({"--data-checksums"});
        ASSERT_TRUE(cluster) << cluster.error().message;
        s_cluster = cluster->release();
        auto archive = s_cluster->make_directory("archive");
        ASSERT_TRUE(archive) << archive.error().message;
        s_archive = new fs::path(*archive);
        ASSERT_TRUE(s_cluster->append_config(fmt::format(
            "archive_mode = on\narchive_command = 'cp %p {0}/%f.part && mv {0}/%f.part {0}/%f'\n"
            "wal_level = replica\nfsync = off\nautovacuum = off\n",
            archive->string())));
        auto started = s_cluster->start();
        ASSERT_TRUE(started) << started.error().message << s_cluster->server_log();
        ASSERT_TRUE(
            s_cluster->psql("CREATE TABLE t (id int PRIMARY KEY, note text);"
                            "INSERT INTO t SELECT g, md5(g::text) FROM "
                            "generate_series(1, 2000) g"));
    }
    static void TearDownTestSuite() {
        delete s_cluster;
        s_cluster = nullptr;
        delete s_archive;
        s_archive = nullptr;
    }

    void SetUp() override {
        if (!s_cluster) GTEST_SKIP() << "PostgreSQL 15 binaries not found";
        auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-fault-");
        ASSERT_TRUE(scratch) << scratch.error().message;
        m_scratch.emplace(std::move(*scratch));
    }

    fs::path scratch() const { return m_scratch->path(); }

    static Status make_repository(const fs::path& location) {
        repo::RepositoryConfig config;
        config.created = system_clock().now();
        LB_CHECK(repo::Repository::init(location.string(), config));
        return {};
    }

    // Pushes archived WAL into `location` while `body` runs (the archive_command's second half).
    static Status with_archiver(const fs::path& location, const std::function<void()>& body) {
        std::atomic<bool> stop{false};
        std::thread pusher([&] {
            std::set<std::string> pushed;
            OperationContext ctx;
            for (;;) {
                const bool last_round = stop.load();
                std::error_code ec;
                std::vector<fs::path> ready;
                for (const auto& entry : fs::directory_iterator(*s_archive, ec))
                    if (entry.path().extension() != ".part" &&
                        !pushed.count(entry.path().filename().string()))
                        ready.push_back(entry.path());
                std::sort(ready.begin(), ready.end());
                if (!ready.empty()) {
                    auto repository = repo::Repository::open(location.string());
                    for (const auto& file : ready)
                        if (repository && postgres_physical::wal_push(*repository, file, ctx))
                            pushed.insert(file.filename().string());
                }
                if (last_round) return;
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        });
        body();
        stop = true;
        pusher.join();
        return {};
    }

    static engine::BackupOptions backup_options() {
        engine::BackupOptions options;
        options.conninfo = s_cluster->conninfo();
        options.jobs = 2;
        options.archive_timeout = std::chrono::seconds(60);
        options.lock_wait = std::chrono::seconds(0);
        return options;
    }

    // Faults off: verify passes, and the newest `how_many` backups list shows (0: all) restore.
    void check_sound(const fs::path& location, Tally& tally, std::uint64_t n,
                     std::size_t how_many = 1) {
        // A run whose lock release was the failed call leaves its lock behind; the process that
        // held it would have exited (its lock then stale), but this one lives on.
        std::error_code ec;
        fs::remove_all(location / "locks", ec);
        fs::create_directories(location / "locks", ec);
        auto repository = repo::Repository::open(location.string());
        ASSERT_TRUE(repository) << repository.error().message;
        auto report = engine::run_verify(*repository, {}, m_ctx);
        if (!report || !report->ok()) {
            tally.bad.push_back(fmt::format(
                "{} N={}: verify afterwards: {}", tally.operation, n,
                report ? report->problems.front().object + ": " + report->problems.front().message
                       : report.error().message));
            return;
        }
        auto catalog = engine::load_catalog(*repository);
        ASSERT_TRUE(catalog) << catalog.error().message;
        const auto& backups = catalog->backups;
        const std::size_t from =
            how_many == 0 || how_many >= backups.size() ? 0 : backups.size() - how_many;
        for (std::size_t i = from; i < backups.size(); ++i) {
            const fs::path target = scratch() / fmt::format("check-{}-{}", n, i);
            auto restored = engine::run_restore(*repository,
                                                {.backup_id = backups[i].id,
                                                 .consistent = true,
                                                 .target_dir = target,
                                                 .lifeboat_binary = "lifeboat"},
                                                m_ctx);
            if (!restored) {
                tally.bad.push_back(fmt::format("{} N={}: backup {} does not restore: {}",
                                                tally.operation, n, backups[i].id,
                                                restored.error().message));
            } else if (restored->files != backups[i].stats.files) {
                tally.bad.push_back(fmt::format("{} N={}: backup {} restored {} of {} files",
                                                tally.operation, n, backups[i].id, restored->files,
                                                backups[i].stats.files));
            }
            std::error_code ec;
            fs::remove_all(target, ec);
        }
    }

    // Runs `operation` over a fault-free FaultStorage to count its calls, then once per fault
    // point; `prepare` gives the repository location for each run (fresh or shared).
    template <typename Operation>
    Tally run_with_faults(const std::string& name, const std::function<fs::path()>& prepare,
                          Operation operation, Writes writes, std::size_t restore_how_many = 1) {
        Tally tally{name};
        {
            const fs::path location = prepare();
            auto faulty = open_faulty(location, {});
            EXPECT_TRUE(faulty) << faulty.error().message;
            if (!faulty) return tally;
            const Status clean = operation(faulty->repository);
            EXPECT_TRUE(clean) << name << " (no faults): " << clean.error().message;
            tally.calls = faulty->faults->calls();
        }
        for (const std::uint64_t n : fault_points(tally.calls)) {
            ++tally.tried;
            const fs::path location = prepare();
            const FaultPlan plan{.code = ErrorCode::unavailable, .nth = n};
            Status status = [&]() -> Status {
                auto faulty = open_faulty(location, plan);
                if (!faulty) return std::unexpected(faulty.error());
                return operation(faulty->repository);
            }();
            if (status) {
                ++tally.succeeded;
            } else if (storage_category(status.error().code)) {
                ++tally.failed_cleanly;
            } else {
                tally.bad.push_back(fmt::format("{} N={}: failed with {} (exit category {}): {}",
                                                name, n, error_code_name(status.error().code),
                                                exit_status(status.error().code),
                                                status.error().message));
            }
            if (writes == Writes::yes) check_sound(location, tally, n, restore_how_many);
        }
        if (writes == Writes::no) check_sound(prepare(), tally, tally.calls, restore_how_many);
        tally.print();
        for (const auto& b : tally.bad)
            ADD_FAILURE() << b;
        return tally;
    }

    // Each kind of fault at up to k_max_points_per_kind call indexes of `operation`: a
    // transient one, under RetryStorage, must be absorbed (the operation succeeds); a permanent
    // one must fail the operation with the storage category (exit 5) or leave it unaffected.
    // Afterwards, faults off, the repository is sound (check_sound).
    template <typename Operation>
    void run_with_fault_kinds(const std::string& name, const std::function<fs::path()>& prepare,
                              Operation operation, std::size_t restore_how_many = 1,
                              std::uint64_t most_points = k_max_points_per_kind) {
        std::uint64_t calls = 0;
        std::uint64_t write_calls = 0;
        {
            const fs::path location = prepare();
            auto faulty = open_faulty(location, {});
            ASSERT_TRUE(faulty) << faulty.error().message;
            const Status clean = operation(faulty->repository);
            ASSERT_TRUE(clean) << name << " (no faults): " << clean.error().message;
            calls = faulty->faults->calls();
            write_calls = faulty->faults->write_calls();
        }
        for (const FaultKind kind : k_fault_kinds) {
            const std::uint64_t indexes = kind == FaultKind::no_space ? write_calls : calls;
            KindTally tally{name, kind, indexes};
            Tally sound{name + "/" + std::string(fault_kind_name(kind))};
            for (const std::uint64_t n : fault_points(indexes, most_points)) {
                const fs::path location = prepare();
                const FaultPlan plan{.kind = kind, .nth = n};
                std::uint64_t injected = 0;
                Status status = [&]() -> Status {
                    auto faulty =
                        open_faulty(location, plan,
                                    fault_is_transient(kind) ? Retries::instant : Retries::none);
                    // Opening reads the config object: the fault may fall there.
                    if (!faulty) {
                        injected = 1;
                        return std::unexpected(faulty.error());
                    }
                    auto result = operation(faulty->repository);
                    injected = faulty->faults->injected();
                    return result;
                }();
                tally.injected += injected;
                if (injected == 0) {
                    // no_space at a call that does not write: nothing was injected.
                } else if (fault_is_transient(kind)) {
                    if (status) {
                        ++tally.absorbed;
                    } else {
                        tally.bad.push_back(fmt::format("{} {} N={}: not absorbed: {}", name,
                                                        fault_kind_name(kind), n,
                                                        status.error().message));
                    }
                } else if (status) {
                    ++tally.unaffected;
                } else if (exit_status(status.error().code) == exit_status(ErrorCode::repository)) {
                    ++tally.failed_cleanly;
                } else {
                    tally.bad.push_back(
                        fmt::format("{} {} N={}: failed with {} (exit {}): {}", name,
                                    fault_kind_name(kind), n, error_code_name(status.error().code),
                                    exit_status(status.error().code), status.error().message));
                }
                check_sound(location, sound, n, restore_how_many);
            }
            tally.print();
            for (const auto& b : tally.bad)
                ADD_FAILURE() << b;
            for (const auto& b : sound.bad)
                ADD_FAILURE() << b;
        }
    }

    // A repository holding backups of the test cluster, with WAL, built once for the suite.
    fs::path base_repository() {
        const fs::path location = scratch() / "base";
        if (fs::exists(location)) return location;
        EXPECT_TRUE(make_repository(location));
        (void)with_archiver(location, [&] {
            for (int i = 0; i < 2; ++i) {
                EXPECT_TRUE(
                    s_cluster->psql("INSERT INTO t SELECT (SELECT max(id) FROM t) + g, "
                                    "'more' FROM generate_series(1, 500) g"));
                auto repository = repo::Repository::open(location.string());
                ASSERT_TRUE(repository);
                auto backed_up = engine::run_backup(*repository, backup_options(), m_ctx);
                ASSERT_TRUE(backed_up) << backed_up.error().message;
            }
        });
        return location;
    }

    // A fresh copy of `from` (objects are files; modes as they were).
    fs::path copy_of(const fs::path& from, const std::string& name) {
        const fs::path to = scratch() / name;
        std::error_code ec;
        fs::remove_all(to, ec);
        fs::copy(from, to, fs::copy_options::recursive, ec);
        EXPECT_FALSE(ec) << ec.message();
        return to;
    }

    static pgtest::TestCluster* s_cluster;
    static fs::path* s_archive;
    std::optional<TempDirectory> m_scratch;
    OperationContext m_ctx;
};

pgtest::TestCluster* EngineFaultTest::s_cluster = nullptr;
fs::path* EngineFaultTest::s_archive = nullptr;

}  // namespace

TEST_F(EngineFaultTest, BackupFailsCleanlyOrSucceedsAtEveryFaultPoint) {
    const fs::path location = base_repository();
    Tally tally;
    (void)with_archiver(location, [&] {
        tally = run_with_faults(
            "backup", [&] { return location; },
            [&](repo::Repository& repository) -> Status {
                // A change, so that every run reads (and stores) something new.
                LB_CHECK(s_cluster->psql("UPDATE t SET note = md5(note) WHERE id % 50 = 0"));
                auto outcome = engine::run_backup(repository, backup_options(), m_ctx);
                if (!outcome) return std::unexpected(outcome.error());
                return {};
            },
            Writes::yes);
    });
    EXPECT_GT(tally.calls, 0u);
    EXPECT_EQ(tally.failed_cleanly + tally.succeeded, tally.tried);
}

TEST_F(EngineFaultTest, RestoreFailsCleanlyOrSucceedsAtEveryFaultPoint) {
    const fs::path location = base_repository();
    std::uint64_t run = 0;
    std::vector<std::string> leftovers;
    const auto tally = run_with_faults(
        "restore", [&] { return location; },
        [&](repo::Repository& repository) -> Status {
            const fs::path target = scratch() / fmt::format("restore-{}", ++run);
            auto restored = engine::run_restore(
                repository, {.target_dir = target, .lifeboat_binary = "lifeboat"}, m_ctx);
            std::error_code ec;
            // On failure the restore removes what it wrote (the target did not exist).
            if (!restored && fs::exists(target, ec)) leftovers.push_back(target.string());
            fs::remove_all(target, ec);
            if (!restored) return std::unexpected(restored.error());
            return {};
        },
        Writes::no, 0);
    EXPECT_TRUE(leftovers.empty()) << leftovers.front();
    EXPECT_EQ(tally.failed_cleanly + tally.succeeded, tally.tried);
}

TEST_F(EngineFaultTest, CopyFailsCleanlyOrSucceedsAtEveryFaultPointOfTheDestination) {
    const fs::path source = base_repository();
    std::uint64_t run = 0;
    fs::path destination;
    const auto tally = run_with_faults(
        "copy",
        [&] {
            destination = scratch() / fmt::format("copy-{}", ++run);
            EXPECT_TRUE(make_repository(destination));
            return destination;
        },
        [&](repo::Repository& to) -> Status {
            repo::Repository from = LB_TRY(repo::Repository::open(source.string()));
            auto copied = engine::run_copy(from, to, {}, m_ctx);
            if (!copied) return std::unexpected(copied.error());
            return {};
        },
        Writes::yes, 1);
    EXPECT_EQ(tally.failed_cleanly + tally.succeeded, tally.tried);
}

TEST_F(EngineFaultTest, ExpireFailsCleanlyOrSucceedsAtEveryFaultPoint) {
    const fs::path base = base_repository();
    std::uint64_t run = 0;
    engine::ExpireOptions options;
    options.policy.window = std::chrono::seconds(0);
    options.policy.min_backups = 1;
    options.lock_wait = std::chrono::seconds(0);
    options.repack_below = 0.9;
    const auto tally = run_with_faults(
        "expire", [&] { return copy_of(base, fmt::format("expire-{}", ++run)); },
        [&](repo::Repository& repository) -> Status {
            auto expired = engine::run_expire(repository, options, m_ctx);
            if (!expired) return std::unexpected(expired.error());
            return {};
        },
        Writes::yes, 0);
    EXPECT_EQ(tally.failed_cleanly + tally.succeeded, tally.tried);
}

// expire's set of referenced blocks spilled to disk (block_id_set.hpp) plans exactly what the
// in-memory set plans, and the repository verifies afterwards.
TEST_F(EngineFaultTest, ExpireWithTheBlockSetOnDiskRemovesWhatItRemovesInMemory) {
    const fs::path base = base_repository();
    engine::ExpireOptions options;
    options.policy.window = std::chrono::seconds(0);
    options.policy.min_backups = 1;
    options.lock_wait = std::chrono::seconds(0);
    options.repack_below = 0.9;
    std::vector<std::string> outcomes;
    for (const std::size_t budget : {std::size_t{16} << 20, std::size_t{0}}) {
        options.block_set_memory = budget;
        options.scratch_dir = scratch();
        auto repository =
            repo::Repository::open(copy_of(base, fmt::format("expire-set-{}", budget)).string());
        ASSERT_TRUE(repository);
        auto expired = engine::run_expire(*repository, options, m_ctx);
        ASSERT_TRUE(expired) << expired.error().message;
        // The packs removed depend on what earlier tests added to the base repository; that
        // the two plans agree does not.
        EXPECT_GT(expired->expired.size(), 0u);
        outcomes.push_back(fmt::format("{} {} {} {}", expired->expired.size(),
                                       expired->packs_deleted, expired->packs_repacked,
                                       expired->pack_bytes_deleted));
        auto report = engine::run_verify(*repository, {}, m_ctx);
        ASSERT_TRUE(report) << report.error().message;
        EXPECT_TRUE(report->ok());
    }
    EXPECT_EQ(outcomes[0], outcomes[1]);
}

TEST_F(EngineFaultTest, VerifyFailsCleanlyOrPassesAtEveryFaultPoint) {
    const fs::path location = base_repository();
    std::uint64_t false_damage = 0;
    const auto tally = run_with_faults(
        "verify", [&] { return location; },
        [&](repo::Repository& repository) -> Status {
            auto report = engine::run_verify(repository, {}, m_ctx);
            if (!report) return std::unexpected(report.error());
            // A storage failure must not be reported as damage.
            if (!report->ok()) {
                ++false_damage;
                return fail(ErrorCode::corrupt, "verify reported damage: {}: {}",
                            report->problems.front().object, report->problems.front().message);
            }
            return {};
        },
        Writes::no);
    EXPECT_EQ(false_damage, 0u);
    EXPECT_EQ(tally.failed_cleanly + tally.succeeded, tally.tried);
}

TEST_F(EngineFaultTest, BackupAbsorbsTransientFaultsAndFailsCleanlyOnPermanentOnes) {
    const fs::path location = base_repository();
    (void)with_archiver(location, [&] {
        run_with_fault_kinds(
            "backup", [&] { return location; },
            [&](repo::Repository& repository) -> Status {
                LB_CHECK(s_cluster->psql("UPDATE t SET note = md5(note) WHERE id % 50 = 0"));
                auto outcome = engine::run_backup(repository, backup_options(), m_ctx);
                if (!outcome) return std::unexpected(outcome.error());
                return {};
            });
    });
}

TEST_F(EngineFaultTest, RestoreAbsorbsTransientFaultsAndFailsCleanlyOnPermanentOnes) {
    const fs::path location = base_repository();
    std::uint64_t run = 0;
    std::vector<std::string> leftovers;
    run_with_fault_kinds(
        "restore", [&] { return location; },
        [&](repo::Repository& repository) -> Status {
            const fs::path target = scratch() / fmt::format("restore-kind-{}", ++run);
            auto restored = engine::run_restore(
                repository, {.target_dir = target, .lifeboat_binary = "lifeboat"}, m_ctx);
            std::error_code ec;
            if (!restored && fs::exists(target, ec)) leftovers.push_back(target.string());
            fs::remove_all(target, ec);
            if (!restored) return std::unexpected(restored.error());
            return {};
        });
    EXPECT_TRUE(leftovers.empty()) << leftovers.front();
}

TEST_F(EngineFaultTest, CopyAbsorbsTransientFaultsAndFailsCleanlyOnPermanentOnes) {
    const fs::path source = base_repository();
    std::uint64_t run = 0;
    run_with_fault_kinds(
        "copy",
        [&] {
            const fs::path destination = scratch() / fmt::format("copy-kind-{}", ++run);
            EXPECT_TRUE(make_repository(destination));
            return destination;
        },
        [&](repo::Repository& to) -> Status {
            repo::Repository from = LB_TRY(repo::Repository::open(source.string()));
            auto copied = engine::run_copy(from, to, {}, m_ctx);
            if (!copied) return std::unexpected(copied.error());
            return {};
        });
}

TEST_F(EngineFaultTest, WalPushAbsorbsTransientFaultsAndFailsCleanlyOnPermanentOnes) {
    const fs::path base = base_repository();
    // A whole archived segment, pushed into a fresh repository each run.
    std::optional<fs::path> segment;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(*s_archive, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() == 24 && name.find('.') == std::string::npos) segment = entry.path();
    }
    ASSERT_TRUE(segment) << "no archived segment in " << s_archive->string();
    const std::string content = *read_file(*segment);
    std::uint64_t run = 0;
    std::vector<std::string> wrong;
    run_with_fault_kinds(
        "wal-push",
        [&] {
            const fs::path destination = scratch() / fmt::format("wal-kind-{}", ++run);
            EXPECT_TRUE(make_repository(destination));
            return destination;
        },
        [&](repo::Repository& repository) -> Status {
            auto pushed = postgres_physical::wal_push(repository, *segment, m_ctx);
            // Whole and right, or absent: never a partial or different object.
            auto reopened = repo::Repository::open(repository.location());
            if (!reopened) return std::unexpected(reopened.error());
            auto stored = repo::fetch_wal(reopened->storage(), segment->filename().string());
            if (stored ? *stored != content : stored.error().code != ErrorCode::not_found)
                wrong.push_back(fmt::format("run {}: the stored segment is wrong", run));
            if (pushed && !stored) wrong.push_back(fmt::format("run {}: pushed, not stored", run));
            if (!pushed) return std::unexpected(pushed.error());
            return {};
        },
        0, k_max_points);  // a dozen calls: every one of them, for every kind
    (void)base;
    EXPECT_TRUE(wrong.empty()) << wrong.front();
}
