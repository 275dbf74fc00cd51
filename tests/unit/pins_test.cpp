// Pins: what was stored before times were range-checked (year 10000, offsets of -23:00) and
// damaged pin objects must not make every reader fail; such a pin holds for ever.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "repository/pins.hpp"
#include "repository_test_support.hpp"
#include "storage/forwarding_storage.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;
using namespace lifeboat::repo::test_support;

namespace {

class PinsTest : public ScratchTest {
  protected:
    void put_pin_json(const std::string& id, const nlohmann::json& j) {
        const auto object = encode_object(ObjectKind::pin, j.dump(), PayloadCompression::none);
        ASSERT_TRUE(object);
        ASSERT_TRUE(storage().write("pins/" + id, *object, Overwrite::allow));
    }
};

TEST_F(PinsTest, RoundTrips) {
    const Pin pin{"20261126T080000Z", parse_iso8601("2030-01-01T00:00:00Z").value(),
                  parse_iso8601("2026-11-26T08:00:00Z").value(), ""};
    ASSERT_TRUE(write_pin(storage(), pin));
    auto pins = read_pins(storage());
    ASSERT_TRUE(pins) << pins.error().message;
    ASSERT_EQ(pins->size(), 1u);
    EXPECT_EQ(pins->at(pin.backup_id).until, pin.until);
    EXPECT_TRUE(pins->at(pin.backup_id).problem.empty());
}

TEST_F(PinsTest, AnUnreadableTimeOrObjectIsAPinForEverThatSaysWhy) {
    put_pin_json("20261126T080000Z", {{"backup", "20261126T080000Z"},
                                      {"until", "10000-01-01T22:59:59Z"},
                                      {"created", "2026-11-26T08:00:00Z"}});
    put_pin_json("20261126T090000Z", {{"backup", "20261126T090000Z"},
                                      {"until", "2030-01-01T00:00:00Z"},
                                      {"created", "2026-11-26T09:00:00Z"}});
    ASSERT_TRUE(storage().write("pins/20261126T100000Z", "truncated", Overwrite::allow));
    auto pins = read_pins(storage());
    ASSERT_TRUE(pins) << pins.error().message;
    ASSERT_EQ(pins->size(), 3u);
    const Timestamp far = parse_iso8601("9999-01-01T00:00:00Z").value();
    for (const char* id : {"20261126T080000Z", "20261126T100000Z"}) {
        const Pin& pin = pins->at(id);
        EXPECT_FALSE(pin.until) << id;
        EXPECT_TRUE(pin.holds_at(far)) << id;
        EXPECT_NE(pin.problem.find(std::string("pins/") + id), std::string::npos) << pin.problem;
    }
    EXPECT_TRUE(pins->at("20261126T090000Z").problem.empty());
    EXPECT_FALSE(pins->at("20261126T090000Z").holds_at(far));
}

// In an encrypted repository a damaged pin fails when it is read (authentication), not when it
// is decoded: still one pin for ever that says why, not an error for every reader (found by the
// corruption sweep). Any other read failure is still an error.
TEST_F(PinsTest, APinWhoseReadFindsDamageIsAPinForEver) {
    class FailingReads : public ForwardingStorage {
      public:
        FailingReads(Storage& inner, ErrorCode code) : ForwardingStorage(inner), m_code(code) {}
        Result<std::string> read(const std::string& key) const override {
            if (key == "pins/20261126T080000Z")
                return fail(m_code, "{}: authentication failed: the data was altered", key);
            return ForwardingStorage::read(key);
        }

      private:
        ErrorCode m_code;
    };
    for (const char* id : {"20261126T080000Z", "20261126T090000Z"}) {
        put_pin_json(id, {{"backup", id}, {"until", nullptr}, {"created", "2026-11-26T08:00:00Z"}});
    }
    FailingReads damaged(storage(), ErrorCode::corrupt);
    auto pins = read_pins(damaged);
    ASSERT_TRUE(pins) << pins.error().message;
    ASSERT_EQ(pins->size(), 2u);
    EXPECT_NE(pins->at("20261126T080000Z").problem.find("authentication failed"),
              std::string::npos);
    EXPECT_TRUE(pins->at("20261126T090000Z").problem.empty());
    FailingReads unavailable(storage(), ErrorCode::unavailable);
    EXPECT_FALSE(read_pins(unavailable));
}

// A copied pin remembers where it came from (so a later copy may replace or remove it); a pin set
// here has no origin. Both read back exactly.
TEST_F(PinsTest, OriginRoundTrips) {
    const Pin own{"20261126T080000Z", std::nullopt, Timestamp{1'764'144'000'000'000}, ""};
    const Pin copied{"20261127T080000Z", Timestamp{4'070'908'800'000'000},
                     Timestamp{1'764'230'400'000'000}, "0123456789abcdef0123456789abcdef"};
    ASSERT_TRUE(write_pin(storage(), own));
    ASSERT_TRUE(write_pin(storage(), copied));
    auto pins = read_pins(storage());
    ASSERT_TRUE(pins) << pins.error().message;
    ASSERT_EQ(pins->size(), 2u);
    const Pin& a = pins->at(own.backup_id);
    EXPECT_TRUE(a.same_terms(own));
    EXPECT_EQ(a.origin, "");
    const Pin& b = pins->at(copied.backup_id);
    EXPECT_TRUE(b.same_terms(copied));
    EXPECT_EQ(b.origin, copied.origin);
    EXPECT_FALSE(b.same_terms(a));
    Pin later = copied;
    later.until = Timestamp{4'102'444'800'000'000};
    EXPECT_FALSE(later.same_terms(copied));
}

}  // namespace
