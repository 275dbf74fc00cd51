// Starts one CongoDB instance (a MongoDB wire-protocol server in TypeScript, npm
// @push.rocks/smartmongo 2.2.0) for the mongodb source tests.
//
//   node tests/mongo/congodb_server.mjs PORT DIR
//
// Listens on 127.0.0.1:PORT, keeps its data in memory, writes DIR/ready (containing the URI) and
// prints "congodb: ready URI" once it accepts connections, and stops on SIGTERM or SIGINT.
// Callers wait for DIR/ready rather than sleeping. URI: mongodb://127.0.0.1:PORT/?directConnection=true
// What it does not do (measured): change streams ($changeStream is an unknown pipeline stage),
// $clusterTime / operationTime, replica-set `hello` (no setName), unique indexes other than _id,
// real transactions (nothing rolls back), validators (dropped).
import { writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { CongoServer } from './smartmongo/dist_ts/congodb/index.js';
import { UpdateEngine } from './smartmongo/dist_ts/congodb/engine/UpdateEngine.js';

// CongoDB 2.2's update path deep-copies the document field by field and knows only ObjectId, Date
// and Timestamp: any update ($set of another field included) turned a Decimal128 or Binary value
// into a plain object ({bytes: {...}}). BSON values are immutable here, so they are shared as they
// are (found by tests/unit/mongodb_apply_property_test.cpp).
const deepClone = UpdateEngine.deepClone.bind(UpdateEngine);
UpdateEngine.deepClone = (value) =>
  value !== null && typeof value === 'object' && typeof value._bsontype === 'string'
    ? value
    : deepClone(value);

const port = Number(process.argv[2]);
const dir = process.argv[3];
if (!Number.isInteger(port) || port <= 0 || !dir) {
  console.error('usage: congodb_server.mjs PORT DIR');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const server = new CongoServer({ port, host: '127.0.0.1' });
await server.start();
const uri = `mongodb://127.0.0.1:${port}/?directConnection=true`;
// Written under another name, then renamed: a waiter that sees DIR/ready reads the whole URI
// (a plain write let one read an empty file, between the create and the write).
writeFileSync(join(dir, 'ready.tmp'), uri + '\n');
renameSync(join(dir, 'ready.tmp'), join(dir, 'ready'));
console.log(`congodb: ready ${uri}`);
const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
