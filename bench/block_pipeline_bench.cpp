// The block pipeline in isolation: hash (SHA-256 block id), compress (zstd), pack (BlockWriter
// into a posix repository), and the restore side (read + decompress + verify). Two kinds of
// data, like the end-to-end benchmark: highly compressible (pgbench-like, ~20:1) and
// business-like (~2.5:1). Regressions show here without a database.
#include <benchmark/benchmark.h>

#include <random>

#include "codec/compress.hpp"
#include "repository/block_writer.hpp"
#include "repository/repository.hpp"
#include "util/fs.hpp"

using namespace lifeboat;

namespace {

constexpr std::size_t k_block = 256 * 1024;

// Deterministic block contents. kind 0: pgbench-like rows (mostly blank filler and small
// integers); kind 1: business-like rows (words, numbers, dates with varied text).
std::string make_block(int kind, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::string out;
    out.reserve(k_block);
    static const char* k_words[] = {"order",  "invoice", "shipped", "pending",  "customer", "alpha",
                                    "berlin", "paris",   "express", "standard", "refund",   "note"};
    while (out.size() < k_block) {
        if (kind == 0) {
            out += fmt::format("{:>10}|{:>6}|{:>8}|", rng() % 1000000, rng() % 100, 0);
            out.append(84, ' ');
        } else {
            out += fmt::format("{}|{}-{:02}-{:02}|{}.{:02}|", rng(), 2020 + rng() % 6,
                               1 + rng() % 12, 1 + rng() % 28, rng() % 100000, rng() % 100);
            for (int w = 0; w < 4; ++w)
                out += k_words[rng() % 12], out += ' ';
            out += std::to_string(rng() % 1000000);
        }
    }
    out.resize(k_block);
    return out;
}

std::vector<std::string> make_blocks(int kind, int count) {
    std::vector<std::string> blocks;
    for (int i = 0; i < count; ++i)
        blocks.push_back(make_block(kind, static_cast<std::uint32_t>(i)));
    return blocks;
}

void BM_Hash(benchmark::State& state) {
    const auto blocks = make_blocks(static_cast<int>(state.range(0)), 16);
    std::size_t i = 0;
    for (auto _ : state)
        benchmark::DoNotOptimize(repo::BlockId::of(blocks[i++ % blocks.size()]));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * k_block));
}

void BM_Compress(benchmark::State& state) {
    const auto blocks = make_blocks(static_cast<int>(state.range(0)), 16);
    Compressor compressor(3);
    std::string out;
    std::size_t i = 0, stored = 0;
    for (auto _ : state) {
        (void)compressor.compress(blocks[i++ % blocks.size()], out);
        stored += out.size();
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * k_block));
    state.counters["ratio"] = static_cast<double>(state.iterations() * k_block) / stored;
}

void BM_Decompress(benchmark::State& state) {
    const auto blocks = make_blocks(static_cast<int>(state.range(0)), 16);
    std::vector<std::string> frames;
    for (const auto& b : blocks)
        frames.push_back(*zstd_compress(b, 3));
    Decompressor decompressor;
    std::string out;
    std::size_t i = 0;
    for (auto _ : state) {
        (void)decompressor.decompress(frames[i % frames.size()], k_block, out);
        ++i;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * k_block));
}

// hash -> dedup lookup -> compress -> pack, into a real posix repository in /tmp.
void BM_PackPipeline(benchmark::State& state) {
    const auto blocks = make_blocks(static_cast<int>(state.range(0)), 64);
    auto dir = TempDirectory::create("/tmp", "lifeboat-bench-");
    repo::RepositoryConfig config;
    auto repository = repo::Repository::init((dir->path() / "repo").string(), config);
    std::uint32_t round = 0;
    for (auto _ : state) {
        state.PauseTiming();
        repo::BlockIndex index;  // empty: every block is new
        repo::BlockWriter writer(*repository, index, 1);
        // Vary one byte per round so blocks never dedup against the previous round.
        auto round_blocks = blocks;
        for (auto& b : round_blocks)
            b[0] = static_cast<char>(round);
        ++round;
        state.ResumeTiming();
        for (const auto& b : round_blocks)
            (void)writer.store(b, 0);
        (void)writer.finish();
    }
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations() * blocks.size() * k_block));
}

// Restore side: read a block from a pack, decompress, check its id.
void BM_ReadBlock(benchmark::State& state) {
    const auto blocks = make_blocks(static_cast<int>(state.range(0)), 64);
    auto dir = TempDirectory::create("/tmp", "lifeboat-bench-");
    repo::RepositoryConfig config;
    auto repository = repo::Repository::init((dir->path() / "repo").string(), config);
    repo::BlockIndex empty;
    repo::BlockWriter writer(*repository, empty, 1);
    for (const auto& b : blocks)
        (void)writer.store(b, 0);
    const auto packs = *writer.finish();
    repo::BlockIndex index;
    for (const auto& p : packs)
        index.add_pack(p);
    repo::BlockReader reader;
    std::string out;
    std::size_t i = 0;
    for (auto _ : state) {
        const auto& entry = packs[0].entries[i++ % packs[0].entries.size()];
        auto status = repo::read_block(repository->storage(), packs[0].id, entry.id,
                                       entry.placement, reader, out);
        if (!status) state.SkipWithError(status.error().message.c_str());
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * k_block));
}

}  // namespace

// Argument: 0 = pgbench-like data, 1 = business-like data.
BENCHMARK(BM_Hash)->Arg(0)->Arg(1);
BENCHMARK(BM_Compress)->Arg(0)->Arg(1);
BENCHMARK(BM_Decompress)->Arg(0)->Arg(1);
BENCHMARK(BM_PackPipeline)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReadBlock)->Arg(0)->Arg(1);

BENCHMARK_MAIN();
