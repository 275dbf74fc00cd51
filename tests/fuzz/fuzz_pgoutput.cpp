// Fuzz target: change log objects as a logical restore decodes them
// (drivers/postgres_logical/pgoutput_decoder.hpp) and the SQL built from what they decode to
// (change_sql.hpp). The input is an object's content ("LBCL", version, records); it is decoded
// whole, then its records are fed one by one to a second decoder (the same result is required),
// and every committed change is turned into its statement.
#include <cstddef>
#include <cstdint>
#include <string>

#include "drivers/postgres_logical/change_apply.hpp"
#include "drivers/postgres_logical/change_sql.hpp"
#include "drivers/postgres_logical/pgoutput_decoder.hpp"

using namespace lifeboat;
using namespace lifeboat::postgres_logical;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string content(reinterpret_cast<const char*>(data), size);
    PgoutputDecoder whole;
    const bool decoded = whole.add_object(content, "logical/fuzz").has_value();
    const auto committed = whole.take_committed();
    for (const auto& t : committed) {
        for (const auto& change : t.changes) {
            if (change.action == ChangeAction::truncate) {
                (void)truncate_statement(change);
            } else if (change.action != ChangeAction::ddl) {
                (void)change_statement(change);
            }
        }
    }
    (void)choose_sequence_samples(whole.sequences(), size);

    auto records = read_change_log(content, "logical/fuzz");
    if (!records) return 0;
    PgoutputDecoder stepwise;
    bool ok = true;
    for (const auto& record : *records) {
        if (!stepwise.add(record, "logical/fuzz")) {
            ok = false;
            break;
        }
    }
    if (ok != decoded || (ok && stepwise.take_committed().size() != committed.size())) {
        __builtin_trap();
    }
    return 0;
}
