#include "repository/pins.hpp"

#include <nlohmann/json.hpp>

#include "repository/object.hpp"

namespace lifeboat::repo {

using nlohmann::json;

namespace {
std::string pin_key(const std::string& backup_id) {
    return "pins/" + backup_id;
}
}  // namespace

Status write_pin(Storage& storage, const Pin& pin) {
    json j = {{"backup", pin.backup_id},
              {"until", pin.until ? json(format_iso8601(*pin.until)) : json(nullptr)},
              {"created", format_iso8601(pin.created)}};
    if (!pin.origin.empty()) j["origin"] = pin.origin;
    const std::string object =
        LB_TRY(encode_object(ObjectKind::pin, j.dump(), PayloadCompression::none));
    return storage.write(pin_key(pin.backup_id), object, Overwrite::allow);
}

Status remove_pin(Storage& storage, const std::string& backup_id) {
    return storage.remove_if_exists(pin_key(backup_id));
}

Result<std::map<std::string, Pin>> read_pins(const Storage& storage) {
    std::map<std::string, Pin> pins;
    for (const auto& object : LB_TRY(storage.list("pins"))) {
        const std::string bytes = LB_TRY(storage.read(object.key));
        Pin pin;
        pin.backup_id = object.key.substr(object.key.find('/') + 1);
        auto note = [&](const std::string& what) {
            if (pin.problem.empty()) {
                pin.problem = fmt::format("{}: {} (the pin is kept for ever)", object.key, what);
            }
        };
        auto text = decode_object(bytes, ObjectKind::pin, object.key);
        if (!text) {
            note(text.error().message);
            pins[pin.backup_id] = pin;
            continue;
        }
        try {
            const json j = json::parse(*text);
            pin.backup_id = j.at("backup").get<std::string>();
            if (!j.at("until").is_null()) {
                auto until = parse_iso8601(j.at("until").get<std::string>());
                if (until) {
                    pin.until = *until;
                } else {
                    note("unreadable end of pin: " + until.error().message);
                }
            }
            auto created = parse_iso8601(j.value("created", ""));
            if (created) {
                pin.created = *created;
            } else {
                note("unreadable creation time: " + created.error().message);
            }
            pin.origin = j.value("origin", "");
        } catch (const json::exception& e) {
            note(fmt::format("malformed pin: {}", e.what()));
        }
        pins[pin.backup_id] = pin;
    }
    return pins;
}

}  // namespace lifeboat::repo
