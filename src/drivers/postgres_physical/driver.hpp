// The physical PostgreSQL driver (source kind "postgres-physical"): a data directory copied
// through the backup API plus archived WAL. The first implementation of source/driver.hpp.
#pragma once

#include <memory>

#include "drivers/postgres_physical/wal_log_archive.hpp"
#include "source/driver.hpp"

namespace lifeboat::postgres_physical {

class PhysicalDriver final : public source::SourceDriver {
  public:
    std::string_view kind() const override { return repo::k_kind_postgres_physical; }
    const source::LogArchive& log_archive() const override { return m_archive; }

  private:
    WalLogArchive m_archive;
};

// Registers the driver with source/registry.hpp (the program's wiring calls it once).
void register_driver();

}  // namespace lifeboat::postgres_physical
