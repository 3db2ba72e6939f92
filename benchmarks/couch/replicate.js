#!/usr/bin/env node
// CouchDB-style replication of the sync benchmark's records: a laptop-side PouchDB pushes to a
// PouchDB HTTP server (express-pouchdb, CouchDB's replication protocol), then a fresh laptop-side
// PouchDB pulls everything back. This is what the Community Health Toolkit does between its
// phones and CouchDB. Driven by benchmarks/sync_couch_replication.py; usable alone:
//
//   node replicate.js --dataset day.json --scenario day [--port 0] [--remote-url URL]
//                     [--control-url URL] [--batch-size 100] [--batches-limit 10]
//
// --dataset      JSON from the Python side: {"changes": [{"table", "id", "fields", "delete"}...]}
// --scenario     day: apply each change to the laptop DB (a put of the whole document with its
//                _rev, a new revision, as PouchDB stores an edit), push, then pull into a fresh DB.
//                first: load the server directly (in-process bulkDocs, no HTTP), then pull only.
// --port         port of the PouchDB server on 127.0.0.1 (0: any free port)
// --remote-url   the database URL the laptop replicates with (e.g. through a counting proxy);
//                default: the server itself, http://127.0.0.1:<port>/medicobus
// --control-url  optional; before each phase the script POSTs <control-url>/phase/<name> (the
//                benchmark proxy counts bytes per phase; these calls are never counted)
// Prints one JSON line of results on stdout. Every database is in memory (memdown).
'use strict';

const http = require('http');
const express = require('express');
const expressPouchDB = require('express-pouchdb');
const PouchDB = require('pouchdb-core')
  .plugin(require('pouchdb-adapter-memory'))
  .plugin(require('pouchdb-adapter-http'))
  .plugin(require('pouchdb-replication'));

const APPEND_FIELDS = new Set(['notes', 'observations']);
const DB_NAME = 'medicobus';

function parseArgs(argv) {
  const args = { port: 0, batchSize: 100, batchesLimit: 10, scenario: 'day' };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    args[key] = argv[i + 1];
  }
  for (const key of ['port', 'batchSize', 'batchesLimit']) args[key] = Number(args[key]);
  if (!args.dataset) throw new Error('--dataset is required');
  if (!['day', 'first'].includes(args.scenario)) throw new Error('--scenario: day or first');
  return args;
}

async function phase(controlUrl, name) {
  if (!controlUrl) return;
  const response = await fetch(`${controlUrl}/phase/${name}`, { method: 'POST' });
  if (!response.ok) throw new Error(`control ${name}: HTTP ${response.status}`);
}

// The record as a document: {_id, type, ...fields}. Append-only lists are merged as a union of
// entries by id (the dataset may carry only the new entry, as mobile_sync's server merges them).
function applyFields(doc, fields) {
  for (const [name, value] of Object.entries(fields)) {
    if (APPEND_FIELDS.has(name) && Array.isArray(doc[name])) {
      const seen = new Set(doc[name].map((entry) => entry.id));
      doc[name] = doc[name].concat(value.filter((entry) => !seen.has(entry.id)));
    } else {
      doc[name] = value;
    }
  }
  return doc;
}

async function writeLocally(db, changes) {
  const docs = new Map(); // the app keeps the doc it edits; a get() before each put would add work
  for (const change of changes) {
    const previous = docs.get(change.id);
    let doc;
    if (change.delete) {
      doc = { _id: change.id, _rev: previous._rev, _deleted: true };
    } else {
      doc = applyFields(previous ? { ...previous } : { _id: change.id, type: change.table }, change.fields);
    }
    const result = await db.put(doc);
    doc._rev = result.rev;
    docs.set(change.id, doc);
  }
  return docs.size;
}

async function loadServer(serverDb, changes) {
  for (let i = 0; i < changes.length; i += 1000) {
    const docs = changes.slice(i, i + 1000).map((c) => applyFields({ _id: c.id, type: c.table }, c.fields));
    const results = await serverDb.bulkDocs(docs);
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(`server load: ${JSON.stringify(failed)}`);
  }
}

function summary(result) {
  return {
    ok: result.ok,
    docs_read: result.docs_read,
    docs_written: result.docs_written,
    doc_write_failures: result.doc_write_failures,
    errors: result.errors.length,
  };
}

async function main() {
  const args = parseArgs(process.argv);
  const dataset = JSON.parse(require('fs').readFileSync(args.dataset, 'utf8'));
  const changes = dataset.changes;

  const ServerPouch = PouchDB.defaults({ adapter: 'memory' });
  const app = express();
  app.use('/', expressPouchDB(ServerPouch, { mode: 'minimumForPouchDB' }));
  const server = http.createServer(app);
  server.keepAliveTimeout = 60000;
  await new Promise((resolve) => server.listen(args.port, '127.0.0.1', resolve));
  const port = server.address().port;
  const remoteUrl = args.remoteUrl || `http://127.0.0.1:${port}/${DB_NAME}`;
  const serverDb = new ServerPouch(DB_NAME); // the same memdown store the HTTP routes serve
  await serverDb.info();

  const out = {
    scenario: args.scenario,
    changes: changes.length,
    batch_size: args.batchSize,
    batches_limit: args.batchesLimit,
    node: process.version,
  };
  const options = { batch_size: args.batchSize, batches_limit: args.batchesLimit };

  if (args.scenario === 'day') {
    const laptop = new PouchDB('laptop-day', { adapter: 'memory' });
    let started = process.hrtime.bigint();
    out.documents = await writeLocally(laptop, changes);
    out.local_write_s = Number(process.hrtime.bigint() - started) / 1e9;

    await phase(args.controlUrl, 'push');
    started = process.hrtime.bigint();
    out.push = summary(await laptop.replicate.to(remoteUrl, options));
    out.push_s = Number(process.hrtime.bigint() - started) / 1e9;
    await laptop.destroy();
  } else {
    const started = process.hrtime.bigint();
    await loadServer(serverDb, changes);
    out.documents = changes.length;
    out.server_load_s = Number(process.hrtime.bigint() - started) / 1e9;
  }

  await phase(args.controlUrl, 'pull');
  const fresh = new PouchDB('laptop-fresh', { adapter: 'memory' });
  const started = process.hrtime.bigint();
  out.pull = summary(await fresh.replicate.from(remoteUrl, options));
  out.pull_s = Number(process.hrtime.bigint() - started) / 1e9;
  await phase(args.controlUrl, 'done');

  const [serverInfo, freshInfo] = await Promise.all([serverDb.info(), fresh.info()]);
  out.server_doc_count = serverInfo.doc_count;
  out.pulled_doc_count = freshInfo.doc_count;
  out.server_update_seq = serverInfo.update_seq;
  await fresh.destroy();
  server.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error.stack || error}\n`);
    process.exit(1);
  },
);
