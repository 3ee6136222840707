'use strict';
// Starts s3rver on 127.0.0.1 with a kernel-chosen port and publishes that port through a file,
// so that several test runs on one machine never race for a "free" port.
//
//   node s3rver-start.js --directory DIR --port-file FILE [--parent-pid PID]
//
// Needs NODE_OPTIONS=--openssl-legacy-provider on Node >= 17: s3rver encrypts its listing
// continuation tokens with DES, which OpenSSL 3 only offers through the legacy provider.

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { pipeline, Readable, Transform } = require('stream');
const S3rver = require('s3rver');
const FilesystemStore = require('s3rver/lib/stores/filesystem');

// s3rver 3.7.1 answers a PutObject once the body has gone through its MD5, while the write to the
// object's file may still be queued, and it writes straight into that file. Two writes of one key
// in quick succession then share the file: under load an object kept bytes of one body under the
// MD5 of the other, for good, which S3 never does. Here a body is spooled to a file of its own and
// answered only once it is in place; putting it in place (the MD5, then the body, each renamed over
// the old one, then the other metadata) and deleting run one at a time per key. The MD5 goes first so
// that s3rver never finds a body without one, which would make a reader compute and store it
// outside of any order. A read during a write may still pair the new MD5 with the old body for a
// moment, as a client sees when it reads while another writes; what stays afterwards is whole.
// CopyObject, which cshelve never sends, is left as s3rver wrote it.
const pendingByKey = new Map();

function oneAtATime(objectPath, work) {
  const previous = pendingByKey.get(objectPath) || Promise.resolve();
  const current = previous.catch(() => {}).then(work);
  pendingByKey.set(objectPath, current);
  const forget = () => {
    if (pendingByKey.get(objectPath) === current) pendingByKey.delete(objectPath);
  };
  current.then(forget, forget);
  return current;
}

// Spool files live beside the data directory, not in it: s3rver lists a bucket by walking its
// folder, and a file that vanishes under that walk fails the listing.
function spoolPath(store) {
  return path.join(path.dirname(store.rootDirectory), `${path.basename(store.rootDirectory)}.spool`,
                   crypto.randomBytes(8).toString('hex'));
}

// Writes the body to `spool`; resolves to [size, MD5 in hex]. The spool file is removed on failure.
function spoolBody(content, spool) {
  const md5 = crypto.createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
  const hash = new Transform({
    transform(chunk, encoding, done) {
      md5.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  return new Promise((resolve, reject) => {
    pipeline(source, hash, fs.createWriteStream(spool), err => {
      if (err) fs.rm(spool, { force: true }, () => reject(err));
      else resolve([size, md5.digest('hex')]);
    });
  });
}

async function replaceFile(spool, target) {
  try {
    await fs.promises.rename(spool, target);
  } catch (err) {
    await fs.promises.rm(spool, { force: true });
    throw err;
  }
}

FilesystemStore.prototype.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  const bodySpool = spoolPath(this);
  await fs.promises.mkdir(path.dirname(bodySpool), { recursive: true });
  const [size, md5] = await spoolBody(object.content, bodySpool);
  return oneAtATime(objectPath, async () => {
    try {
      await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
      const md5Spool = spoolPath(this);
      await fs.promises.writeFile(md5Spool, md5);
      await replaceFile(md5Spool, this.getResourcePath(object.bucket, object.key, 'object.md5'));
      await replaceFile(bodySpool, objectPath);
    } finally {
      await fs.promises.rm(bodySpool, { force: true });
    }
    await this.putMetadata(object.bucket, object.key, object.metadata, undefined);  // the MD5 is in place
    return { size, md5 };
  });
};

const deleteObject = FilesystemStore.prototype.deleteObject;
FilesystemStore.prototype.deleteObject = function serializedDelete(bucket, key) {
  return oneAtATime(this.getResourcePath(bucket, key, 'object'), () => deleteObject.call(this, bucket, key));
};

function parseArguments(argv) {
  const options = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (!name.startsWith('--') || value === undefined) {
      throw new Error(`usage: s3rver-start.js --directory DIR --port-file FILE [--parent-pid PID]`);
    }
    options[name.slice(2)] = value;
  }
  if (!options.directory || !options['port-file']) {
    throw new Error('--directory and --port-file are required');
  }
  return options;
}

function publishPort(portFile, port) {
  // Written under a temporary name and renamed, so a reader never sees a half-written number.
  const partial = `${portFile}.partial`;
  fs.writeFileSync(partial, `${port}\n`);
  fs.renameSync(partial, portFile);
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  fs.mkdirSync(options.directory, { recursive: true });

  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: path.resolve(options.directory),
  });
  const { port } = await server.run();

  const stop = () => {
    server.close(() => process.exit(0));
    // Keep-alive connections can hold close() open; the data directory is disposable anyway.
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  // If the launching shell dies without its cleanup trap (SIGKILL), nobody would stop us.
  if (options['parent-pid']) {
    const parentPid = Number(options['parent-pid']);
    setInterval(() => {
      try {
        process.kill(parentPid, 0);
      } catch (err) {
        stop();
      }
    }, 1000).unref();
    // The interval is unref'd so it never keeps node alive on its own; the listening server does.
  }

  publishPort(options['port-file'], port);
}

main().catch(err => {
  process.stderr.write(`s3rver-start: ${err.stack || err}\n`);
  process.exit(1);
});
