#include "repository/pins.hpp"

#include <nlohmann/json.hpp>

#include "repository/json_reader.hpp"
#include "repository/object.hpp"

namespace lifeboat::repo {

using nlohmann::json;

std::string pin_key(const std::string& backup_id) {
    return "pins/" + backup_id;
}

Status write_pin(Storage& storage, const Pin& pin) {
    json j = {{"backup", pin.backup_id},
              {"until", pin.until ? json(format_iso8601(*pin.until)) : json(nullptr)},
              {"created", format_iso8601(pin.created)}};
    if (!pin.origin.empty()) j["origin"] = pin.origin;
    if (pin.legal_hold == LegalHold::on) j["legal_hold"] = true;
    const std::string object =
        LB_TRY(encode_object(ObjectKind::pin, j.dump(), PayloadCompression::none));
    return storage.write(pin_key(pin.backup_id), object, Overwrite::allow);
}

Status remove_pin(Storage& storage, const std::string& backup_id) {
    return storage.remove_if_exists(pin_key(backup_id));
}

Result<Pin> parse_pin(std::string_view text, std::string_view key) {
    const JsonDocument doc = LB_TRY(JsonDocument::parse(text, key, "pin"));
    const JsonValue j = doc.root();
    Pin pin;
    pin.backup_id = LB_TRY(j.required<std::string>("backup"));
    // Required but nullable: null is "for ever", absence is damage.
    const JsonValue until = LB_TRY(j.field("until"));
    if (!until.is_null()) pin.until = LB_TRY(until.as<Timestamp>());
    pin.created = LB_TRY(j.required<Timestamp>("created"));
    pin.origin = LB_TRY(j.optional<std::string>("origin", ""));
    pin.legal_hold = LB_TRY(j.optional<bool>("legal_hold", false)) ? LegalHold::on : LegalHold::off;
    return pin;
}

Result<std::map<std::string, Pin>> read_pins(const Storage& storage) {
    std::map<std::string, Pin> pins;
    for (const auto& object : LB_TRY(storage.list("pins"))) {
        auto bytes = storage.read(object.key);
        // In an encrypted repository damage shows when the object is read (its authentication
        // fails): that is a damaged pin too, not a reason to fail every reader of the pins.
        if (!bytes && bytes.error().code != ErrorCode::corrupt)
            return std::unexpected(bytes.error());
        auto pin = [&]() -> Result<Pin> {
            if (!bytes) return std::unexpected(bytes.error());
            const std::string text = LB_TRY(decode_object(*bytes, ObjectKind::pin, object.key));
            return parse_pin(text, object.key);
        }();
        if (!pin) {
            // Kept for ever (see Pin::problem), under the name its object has.
            Pin kept;
            kept.backup_id = object.key.substr(object.key.find('/') + 1);
            const std::string prefix = object.key + ": ";
            const std::string& why = pin.error().message;
            kept.problem = fmt::format("{}: {} (the pin is kept for ever)", object.key,
                                       why.starts_with(prefix) ? why.substr(prefix.size()) : why);
            pins[kept.backup_id] = std::move(kept);
            continue;
        }
        pins[pin->backup_id] = std::move(*pin);
    }
    return pins;
}

}  // namespace lifeboat::repo
