#include "drivers/postgres_physical/driver.hpp"

#include "source/registry.hpp"

namespace lifeboat::postgres_physical {

void register_driver() {
    source::register_driver(std::make_unique<PhysicalDriver>());
}

}  // namespace lifeboat::postgres_physical
