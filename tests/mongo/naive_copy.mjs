// The benchmark's peer (bench/mongo_dump_restore.sh): the naive copy of one MongoDB-compatible
// server into another through the node driver, what a script would do without a backup tool.
//
//   node tests/mongo/naive_copy.mjs SOURCE_URI TARGET_URI [BATCH]
//
// Every collection of every database but admin, local and config, one after another: a find
// over the collection in _id order streamed into ordered insertMany batches of BATCH documents
// (default 1000) on the target, then its indexes (all but _id_). Prints one JSON line:
// {"documents": N, "collections": C, "seconds": S}.
import { MongoClient } from './node_modules/mongodb/lib/index.js';

const [sourceUri, targetUri, batchArg] = process.argv.slice(2);
if (!sourceUri || !targetUri) {
  console.error('usage: naive_copy.mjs SOURCE_URI TARGET_URI [BATCH]');
  process.exit(2);
}
const batchSize = Number(batchArg || 1000);
const source = new MongoClient(sourceUri);
const target = new MongoClient(targetUri);
await source.connect();
await target.connect();
const started = process.hrtime.bigint();
let documents = 0;
let collections = 0;
try {
  const { databases } = await source.db('admin').admin().listDatabases();
  for (const { name: dbName } of databases) {
    if (['admin', 'local', 'config'].includes(dbName)) continue;
    for (const info of await source.db(dbName).listCollections({}, { nameOnly: false }).toArray()) {
      if (info.type === 'view' || info.name.startsWith('system.')) continue;
      const from = source.db(dbName).collection(info.name);
      const to = target.db(dbName).collection(info.name);
      let batch = [];
      for await (const doc of from.find({}).sort({ _id: 1 }).batchSize(batchSize)) {
        batch.push(doc);
        if (batch.length === batchSize) {
          await to.insertMany(batch, { ordered: true });
          documents += batch.length;
          batch = [];
        }
      }
      if (batch.length) {
        await to.insertMany(batch, { ordered: true });
        documents += batch.length;
      }
      const indexes = (await from.listIndexes().toArray())
        .filter((ix) => ix.name !== '_id_')
        .map(({ v, ns, ...spec }) => spec);
      if (indexes.length) await to.createIndexes(indexes);
      collections++;
    }
  }
} finally {
  await source.close();
  await target.close();
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ documents, collections, seconds }));
