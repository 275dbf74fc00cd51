#include "sources/mongodb/c_driver.hpp"

namespace lifeboat::mongodb::c_driver {

const SharedLibrary& library() {
    static const SharedLibrary driver("libmongoc-1.0.so.0", "the MongoDB C driver",
                                      "libmongoc-1.0-0");
    return driver;
}

}  // namespace lifeboat::mongodb::c_driver
