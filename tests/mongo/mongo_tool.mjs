// Test helper for the mongodb source's e2e tests, through the node driver (an independent
// client): fills a server, changes one document, prints counts.
//
//   node tests/mongo/mongo_tool.mjs fill URI DOCS_PER_COLLECTION
//       shop.orders, shop.customers, audit.events, audit.blobs: nested documents, arrays,
//       binary, decimal128, dates, ObjectId _ids (CongoDB accepts no other _id type), two
//       secondary indexes per collection (one sparse) and a TTL index on audit.events
//   node tests/mongo/mongo_tool.mjs change-first URI DB COLL
//       sets nested.a = -1 on the document with the smallest _id (always sampled by backups)
//   node tests/mongo/mongo_tool.mjs counts URI
//       one line "DB.COLL N" per collection of every non-system database, sorted
//   node tests/mongo/mongo_tool.mjs digest URI
//       one line "DB.COLL N SHA256" per collection: the hash of every document's canonical
//       extended JSON in _id order (two servers holding the same documents print the same)
//   node tests/mongo/mongo_tool.mjs insert URI DB COLL N
//       inserts N small documents {i} into DB.COLL
//   node tests/mongo/mongo_tool.mjs size URI DB COLL
//       collStats' size of DB.COLL (what a backup compares with --split-table-mib)
//   node tests/mongo/mongo_tool.mjs docs URI DB COLL
//       every document of DB.COLL as relaxed extended JSON, one a line, in _id order
import { createHash } from 'node:crypto';
import { MongoClient, Binary, Decimal128, ObjectId, BSON } from './node_modules/mongodb/lib/index.js';
import { EJSON } from './node_modules/bson/lib/bson.mjs';

const [command, uri, ...rest] = process.argv.slice(2);

// CongoDB 2.2.0 now and then answers a bulk insert with "Server ended moreToCome unexpectedly"
// after storing part of it. The documents carry their _ids from here, so a failed batch is
// retried after removing whatever of it was stored: the collection ends with each document once.
async function insert_batch(coll, docs) {
  for (const d of docs) if (d._id === undefined) d._id = new ObjectId();
  for (let attempt = 1; ; attempt++) {
    try {
      await coll.insertMany(docs, { ordered: true });
      return;
    } catch (e) {
      if (attempt === 4) throw e;
      console.error(`mongo_tool: insert of ${docs.length} documents failed (${e.message}); retrying`);
      await coll.deleteMany({ _id: { $in: docs.map((d) => d._id) } });
    }
  }
}
const client = new MongoClient(uri);
await client.connect();
try {
  if (command === 'fill') {
    const n = Number(rest[0]);
    for (const [dbName, collections] of [['shop', ['orders', 'customers']], ['audit', ['events', 'blobs']]]) {
      const db = client.db(dbName);
      for (const name of collections) {
        let batch = [];
        for (let i = 0; i < n; i++) {
          batch.push({
            key: `${name}-${i}`,
            i,
            nested: { a: i % 7, deeper: { tags: ['x', 'y', i], flag: i % 2 === 0 } },
            list: [{ k: i }, { k: i + 1, v: [1, 2, 3] }],
            bin: new Binary(Buffer.from([i & 255, (i >> 8) & 255, 7, 9]), i % 2 ? 0 : 4),
            price: Decimal128.fromString(`${i}.${i % 100}`),
            at: new Date(Date.UTC(2026, 0, 1) + i * 1000),
            text: name === 'blobs' ? 'z'.repeat(200 + (i % 50)) : `n${i}`,
          });
          if (batch.length === 2000) { await insert_batch(db.collection(name), batch); batch = []; }
        }
        if (batch.length) await insert_batch(db.collection(name), batch);
        await db.collection(name).createIndex({ i: 1 }, { name: 'i_1' });
        await db.collection(name).createIndex({ 'nested.a': 1, at: -1 }, { name: 'nested_at', sparse: true });
      }
    }
    await client.db('audit').collection('events').createIndex({ at: 1 }, { name: 'ttl_at', expireAfterSeconds: 86400 * 3650 });
  } else if (command === 'change-first') {
    const coll = client.db(rest[0]).collection(rest[1]);
    const [first] = await coll.find({}).sort({ _id: 1 }).limit(1).toArray();
    const r = await coll.updateOne({ _id: first._id }, { $set: { 'nested.a': -1 } });
    if (r.modifiedCount !== 1) throw new Error(`changed ${r.modifiedCount} documents`);
  } else if (command === 'counts') {
    const lines = [];
    const { databases } = await client.db('admin').admin().listDatabases();
    for (const { name } of databases) {
      if (['admin', 'local', 'config'].includes(name)) continue;
      for (const c of await client.db(name).listCollections().toArray())
        lines.push(`${name}.${c.name} ${await client.db(name).collection(c.name).countDocuments()}`);
    }
    console.log(lines.sort().join('\n'));
  } else if (command === 'digest') {
    const lines = [];
    const { databases } = await client.db('admin').admin().listDatabases();
    for (const { name } of databases) {
      if (['admin', 'local', 'config'].includes(name)) continue;
      for (const c of await client.db(name).listCollections().toArray()) {
        const hash = createHash('sha256');
        let n = 0;
        for await (const doc of client.db(name).collection(c.name).find({}).sort({ _id: 1 })) {
          hash.update(EJSON.stringify(doc, { relaxed: false }) + '\n');
          n++;
        }
        lines.push(`${name}.${c.name} ${n} ${hash.digest('hex')}`);
      }
    }
    console.log(lines.sort().join('\n'));
  } else if (command === 'size') {
    const stats = await client.db(rest[0]).command({ collStats: rest[1] });
    console.log(String(stats.size));
  } else if (command === 'insert') {
    const [dbName, name, count] = rest;
    const docs = [];
    for (let i = 0; i < Number(count); i++) docs.push({ i });
    for (let from = 0; from < docs.length; from += 2000)
      await insert_batch(client.db(dbName).collection(name), docs.slice(from, from + 2000));
  } else if (command === 'docs') {
    const docs = await client.db(rest[0]).collection(rest[1]).find({}).sort({ _id: 1 }).toArray();
    for (const d of docs) console.log(BSON.EJSON.stringify(d, { relaxed: true }));
  } else {
    throw new Error(`unknown command ${command}`);
  }
} finally {
  await client.close();
}
