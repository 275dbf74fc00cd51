#include "storage/open_storage.hpp"

#include <array>

#include "storage/posix/posix_storage.hpp"
#include "storage/s3/s3_storage.hpp"

namespace lifeboat {

namespace {

Result<std::unique_ptr<Storage>> open_s3(const std::string& location,
                                         const EnvironmentLookup& environment) {
    auto settings = LB_TRY(s3::parse_location(location, environment));
    auto storage = LB_TRY(S3Storage::create(std::move(settings)));
    return std::unique_ptr<Storage>(std::move(storage));
}

struct Scheme {
    std::string_view prefix;
    Result<std::unique_ptr<Storage>> (*open)(const std::string&, const EnvironmentLookup&);
};

// A new backend is one line here (and its own folder under storage/).
constexpr std::array k_schemes = {Scheme{"s3://", open_s3}};

}  // namespace

EnvironmentLookup process_environment_lookup() {
    return s3::process_environment();
}

Result<std::unique_ptr<Storage>> open_storage(const std::string& location,
                                              const EnvironmentLookup& environment) {
    if (location.empty()) {
        return fail(ErrorCode::usage, "no repository given (use --repo PATH or LIFEBOAT_REPO)");
    }
    for (const Scheme& scheme : k_schemes) {
        if (location.starts_with(scheme.prefix)) return scheme.open(location, environment);
    }
    if (location.find("://") != std::string::npos) {
        return fail(ErrorCode::usage,
                    "repository '{}': only local paths and s3:// locations are supported",
                    location);
    }
    std::error_code ec;
    fs::path path = fs::absolute(location, ec);
    return std::unique_ptr<Storage>(new PosixStorage(path.lexically_normal()));
}

}  // namespace lifeboat
