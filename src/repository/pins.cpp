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
        const std::string text = LB_TRY(decode_object(bytes, ObjectKind::pin, object.key));
        try {
            const json j = json::parse(text);
            Pin pin;
            pin.backup_id = j.at("backup").get<std::string>();
            if (!j.at("until").is_null()) {
                pin.until = LB_TRY(parse_iso8601(j.at("until").get<std::string>()));
            }
            pin.created = LB_TRY(parse_iso8601(j.at("created").get<std::string>()));
            pin.origin = j.value("origin", "");
            pins[pin.backup_id] = pin;
        } catch (const json::exception& e) {
            return fail(ErrorCode::corrupt, "{}: malformed pin: {}", object.key, e.what());
        }
    }
    return pins;
}

}  // namespace lifeboat::repo
