#include "cli/wiring.hpp"

#include "drivers/mongodb/driver.hpp"
#include "drivers/postgres_logical/driver.hpp"
#include "drivers/postgres_physical/driver.hpp"

namespace lifeboat::cli {

void register_source_drivers() {
    postgres_physical::register_driver();
    postgres_logical::register_driver();
    mongodb_driver::register_driver();
}

}  // namespace lifeboat::cli
