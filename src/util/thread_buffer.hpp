// One spare buffer per thread, for large reads that are made, consumed and dropped over and over
// on the same threads (a restore's ranged pack reads: up to 4 MiB each, on every fetching thread).
// Buffers of 1 MiB and more come from mmap (cli/main.cpp), so a fresh one per read cost the
// kernel mapping, zeroing and unmapping its pages every time: 130,000 page faults and a sixth of
// the system time of a 1.5 GiB restore. A consumer hands the buffer back when done; the next read
// on that thread writes into it. At most one buffer is kept per thread, freed when the thread
// ends, so memory stays what the reads in flight need.
#pragma once

#include <string>

namespace lifeboat {

// The thread's spare buffer (empty, with its capacity), or an empty string when there is none.
std::string take_thread_buffer();

// Keeps `buffer` as the thread's spare, replacing (freeing) any spare it had.
void return_thread_buffer(std::string&& buffer);

}  // namespace lifeboat
