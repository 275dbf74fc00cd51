#include <gtest/gtest.h>

#include "repository/pins.hpp"
#include "repository_test_support.hpp"

using namespace lifeboat;
using namespace lifeboat::repo;

namespace {

class PinsTest : public test_support::ScratchTest {};

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
