#include "conformance/source/source_driver_conformance.hpp"

#include <algorithm>
#include <set>

#include "repository/cluster_identity.hpp"
#include "repository/keys.hpp"
#include "repository/manifest.hpp"
#include "repository/repository.hpp"
#include "repository/wal_archive.hpp"
#include "source/registry.hpp"

namespace lifeboat::conformance {

namespace {

struct Opened {
    std::filesystem::path copy;
    std::optional<repo::Repository> repository;
    std::vector<repo::Manifest> manifests;
    std::vector<std::string> archived;
    const source::SourceDriver* driver = nullptr;
};

// A private copy of the sample (nothing may alter it), opened, with its manifests and log.
Opened open_sample(const DriverSample& sample) {
    static std::set<std::string> registered;
    if (registered.insert(sample.kind).second) sample.register_driver();
    Opened out;
    out.copy = std::filesystem::temp_directory_path() /
               ("lb-driver-conformance-" + std::to_string(::getpid()) + "-" + sample.kind);
    std::filesystem::remove_all(out.copy);
    std::filesystem::copy(sample.repository, out.copy, std::filesystem::copy_options::recursive);
    repo::KeySource keys;
    if (sample.key_file) {
        // Key files must be private (0600): the committed copy cannot promise that.
        keys.key_file = out.copy / "key";
        std::filesystem::copy_file(*sample.key_file, *keys.key_file);
        std::filesystem::permissions(*keys.key_file, std::filesystem::perms::owner_read |
                                                         std::filesystem::perms::owner_write);
    }
    auto repository = repo::Repository::open(out.copy.string(), keys);
    EXPECT_TRUE(repository) << (repository ? "" : repository.error().message);
    if (!repository) return out;
    out.repository.emplace(std::move(*repository));
    out.manifests = repo::read_all_manifests(out.repository->storage()).value();
    out.archived = repo::list_wal_names(out.repository->storage()).value();
    auto driver = source::driver_for(out.manifests);
    EXPECT_TRUE(driver) << (driver ? "" : driver.error().message);
    if (driver) out.driver = *driver;
    return out;
}

}  // namespace

TEST_P(SourceDriverConformance, IsRegisteredUnderTheKindItsManifestsName) {
    const Opened o = open_sample(GetParam());
    ASSERT_NE(o.driver, nullptr);
    EXPECT_EQ(o.driver->kind(), GetParam().kind);
    ASSERT_FALSE(o.manifests.empty()) << "the sample must hold a backup";
    for (const auto& m : o.manifests)
        EXPECT_EQ(m.source.kind, GetParam().kind) << m.id;
    std::filesystem::remove_all(o.copy);
}

TEST_P(SourceDriverConformance, FollowsEveryBackupToAConsistentReachWithinTheArchive) {
    const Opened o = open_sample(GetParam());
    ASSERT_NE(o.driver, nullptr);
    const source::LogArchive& archive = o.driver->log_archive();
    auto window = archive.follow(o.repository->storage(), o.manifests);
    ASSERT_TRUE(window) << window.error().message;
    ASSERT_EQ(window->backups.size(), o.manifests.size()) << "one own reach per backup, in order";
    EXPECT_EQ(window->wal_files, o.archived.size());
    for (std::size_t i = 0; i < o.manifests.size(); ++i) {
        const auto& reach = window->backups[i];
        EXPECT_EQ(reach.backup_id, o.manifests[i].id);
        EXPECT_EQ(reach.backup_index, i);
        EXPECT_TRUE(reach.consistent) << "the sample's backups have their log";
        EXPECT_EQ(reach.from, o.manifests[i].stop_time);
        if (reach.to) {
            EXPECT_LT(reach.from, *reach.to) << "a reach ends after its backup";
        }
        // Every branch listed reaches only backups it can follow, by index.
        for (const auto& t : window->timelines)
            for (const auto& r : t.reaches)
                EXPECT_LT(r.backup_index, o.manifests.size());
    }
    // Following an empty set of backups over the same archive is not an error.
    auto empty = archive.follow(o.repository->storage(), {});
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_TRUE(empty->backups.empty());
    std::filesystem::remove_all(o.copy);
}

TEST_P(SourceDriverConformance, ObjectsABackupNeedsAreArchivedCheckedAndNeverRemovable) {
    const Opened o = open_sample(GetParam());
    ASSERT_NE(o.driver, nullptr);
    const source::LogArchive& archive = o.driver->log_archive();
    const auto window = archive.follow(o.repository->storage(), o.manifests).value();
    const auto identity = repo::expected_system_identifier(o.repository->storage()).value();
    std::vector<const repo::Manifest*> kept;
    for (const auto& m : o.manifests)
        kept.push_back(&m);
    const auto removable = archive.removable(o.archived, kept, o.manifests.front()).value();
    for (std::size_t i = 0; i < o.manifests.size(); ++i) {
        const auto needed = archive.objects_for(o.manifests[i], window.backups[i], o.archived);
        if (GetParam().log == SampleLog::none_yet) {
            EXPECT_TRUE(needed.empty()) << "a kind without a log needs no log object";
            EXPECT_FALSE(window.backups[i].to) << "a kind without a log reaches no later time";
            continue;
        }
        EXPECT_FALSE(needed.empty()) << "a consistent backup needs some log";
        for (const auto& name : needed) {
            EXPECT_TRUE(std::binary_search(o.archived.begin(), o.archived.end(), name))
                << name << " is needed but not archived";
            EXPECT_EQ(std::count(removable.begin(), removable.end(), name), 0)
                << name << " is needed by a kept backup but removable";
            const auto content = repo::fetch_wal(o.repository->storage(), name).value();
            auto facts = archive.check_object(o.repository->storage(), name, content);
            ASSERT_TRUE(facts) << name << ": " << facts.error().message;
            if (facts->source_identity && identity)
                EXPECT_EQ(*facts->source_identity, *identity) << name;
        }
    }
    for (const auto& name : o.archived)
        if (archive.is_shared(name))
            EXPECT_EQ(std::count(removable.begin(), removable.end(), name), 0) << name;
    std::filesystem::remove_all(o.copy);
}

TEST_P(SourceDriverConformance, RefusesWhatIsNoLogObjectAndDamagedContent) {
    const Opened o = open_sample(GetParam());
    ASSERT_NE(o.driver, nullptr);
    const source::LogArchive& archive = o.driver->log_archive();
    auto not_a_name = archive.check_object(o.repository->storage(), "not-a-log-object", "x");
    ASSERT_FALSE(not_a_name);
    EXPECT_EQ(not_a_name.error().code, ErrorCode::usage);
    if (GetParam().log == SampleLog::none_yet) {
        // A physical WAL name is never taken for this kind's object.
        auto wal = archive.check_object(o.repository->storage(), "000000010000000000000001", "x");
        ASSERT_FALSE(wal);
        EXPECT_EQ(wal.error().code, ErrorCode::usage);
        std::filesystem::remove_all(o.copy);
        return;
    }
    ASSERT_FALSE(o.archived.empty());
    // The first object a backup needs, with its content cut short: damage, never accepted.
    const auto window = archive.follow(o.repository->storage(), o.manifests).value();
    const auto name =
        archive.objects_for(o.manifests.front(), window.backups.front(), o.archived).front();
    const auto content = repo::fetch_wal(o.repository->storage(), name).value();
    auto cut = archive.check_object(o.repository->storage(), name, content.substr(0, 100));
    ASSERT_FALSE(cut) << name << " accepted with 100 bytes";
    EXPECT_EQ(cut.error().code, ErrorCode::corrupt);
    std::filesystem::remove_all(o.copy);
}

TEST_P(SourceDriverConformance, StopsExactlyAtTheEndOfAReachThatHasOne) {
    const Opened o = open_sample(GetParam());
    ASSERT_NE(o.driver, nullptr);
    const source::LogArchive& archive = o.driver->log_archive();
    const auto window = archive.follow(o.repository->storage(), o.manifests).value();
    bool tried = false;
    for (const auto& reach : window.backups) {
        if (!reach.to) continue;
        tried = true;
        auto position = archive.stop_position_at_end(o.repository->storage(), reach);
        ASSERT_TRUE(position) << position.error().message;
        if (*position) EXPECT_FALSE((*position)->empty());
    }
    if (GetParam().log == SampleLog::archived)
        EXPECT_TRUE(tried) << "the sample's archive must go past its backup";
    EXPECT_FALSE(archive.describe_branch(1).empty());
    std::filesystem::remove_all(o.copy);
}

}  // namespace lifeboat::conformance
