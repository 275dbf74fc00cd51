// util/thread_buffer.hpp: a thread's spare buffer is handed back and written into by the next
// read on that thread (File::read_range), never seen by another thread.
#include <gtest/gtest.h>

#include <thread>

#include "io/file.hpp"
#include "util/fs.hpp"
#include "util/thread_buffer.hpp"

namespace lifeboat {
namespace {

TEST(ThreadBufferTest, AReturnedBufferIsTheNextTakeOnItsThreadOnly) {
    EXPECT_TRUE(take_thread_buffer().empty());
    std::string buffer(1 << 20, 'x');
    const char* storage = buffer.data();
    return_thread_buffer(std::move(buffer));
    std::thread other([] { EXPECT_EQ(take_thread_buffer().capacity(), std::string().capacity()); });
    other.join();
    std::string again = take_thread_buffer();
    EXPECT_TRUE(again.empty());
    EXPECT_GE(again.capacity(), std::size_t{1} << 20);
    EXPECT_EQ(again.data(), storage);
    EXPECT_EQ(take_thread_buffer().capacity(), std::string().capacity());  // taken: none left
}

TEST(ThreadBufferTest, RangeReadsWriteIntoTheReturnedBufferAndReadExactly) {
    auto scratch = TempDirectory::create(fs::temp_directory_path(), "lb-thread-buffer-");
    ASSERT_TRUE(scratch) << scratch.error().message;
    const fs::path path = scratch->path() / "data";
    std::string content;
    for (int i = 0; i < 300000; ++i)
        content += static_cast<char>('a' + i % 26);
    {
        auto file = File::open(path, OpenMode::create_truncate);
        ASSERT_TRUE(file) << file.error().message;
        ASSERT_TRUE(file->write_at(0, content));
        ASSERT_TRUE(file->close());
    }
    auto file = File::open(path, OpenMode::read);
    ASSERT_TRUE(file) << file.error().message;
    auto first = file->read_range(1000, 200000);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(*first, content.substr(1000, 200000));
    const char* storage = first->data();
    return_thread_buffer(std::move(*first));
    // Smaller, then past the end: the same storage, exactly the bytes there (none stale).
    auto second = file->read_range(5, 10);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(*second, content.substr(5, 10));
    EXPECT_EQ(second->data(), storage);
    return_thread_buffer(std::move(*second));
    auto tail = file->read_range(299990, 100);
    ASSERT_TRUE(tail) << tail.error().message;
    EXPECT_EQ(*tail, content.substr(299990));
}

}  // namespace
}  // namespace lifeboat
