// Fuzz target: the TOML configuration file (cli/settings.hpp, Settings::resolve: parse and type
// checks), then every getter on what was accepted. toml++ reads from a path, so each input is
// written to one scratch file first.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "cli/settings.hpp"

using namespace lifeboat;
using namespace lifeboat::cli;

namespace {

const std::string& scratch_file() {
    static const std::string path =
        (std::filesystem::temp_directory_path() /
         ("lifeboat-fuzz-settings-" + std::to_string(::getpid()) + ".toml"))
            .string();
    static const bool cleanup = [] {
        return std::atexit([] { std::remove(path.c_str()); }) == 0;
    }();
    (void)cleanup;
    return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = scratch_file();
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) return 0;
    std::fwrite(data, 1, size, file);
    std::fclose(file);

    const auto settings = Settings::resolve({}, path);
    if (!settings) return 0;
    for (const SettingSpec& spec : setting_specs()) {
        (void)settings->get(spec.name);
        if (spec.type == SettingType::count) (void)settings->get_unsigned(spec.name);
    }
    (void)settings->jobs();
    if (const auto repository = settings->repository()) {
        const std::string location = settings->repository_location(*repository);
        (void)settings->describe_repository(location);
        (void)settings->key_file_for(location);
        (void)settings->get_for("retention-window", location);
        (void)settings->get_unsigned_for("keep-daily", location);
    }
    for (const NamedRepository& named : settings->repositories()) {
        (void)settings->repository_location(named.name);
        (void)settings->has_own_key_file(named.location);
    }
    return 0;
}
