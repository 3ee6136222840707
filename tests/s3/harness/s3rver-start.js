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
// MD5 of the other, for good, which S3 never does. Here a key's writes and deletes run one after
// another, and a write is answered only once its body is in place, renamed over the old one.
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

function writeWhole(content, objectPath) {
  const partial = `${objectPath}.${crypto.randomBytes(6).toString('hex')}.partial`;
  const md5 = crypto.createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(content) ? Readable.from([content]) : content;
  return new Promise((resolve, reject) => {
    const hash = new Transform({
      transform(chunk, encoding, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    pipeline(source, hash, fs.createWriteStream(partial), err => {
      if (err) {
        fs.rm(partial, { force: true }, () => reject(err));
        return;
      }
      fs.rename(partial, objectPath, renameError => {
        if (renameError) reject(renameError);
        else resolve([size, md5.digest('hex')]);
      });
    });
  });
}

FilesystemStore.prototype.putObject = function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  return oneAtATime(objectPath, async () => {
    await fs.promises.mkdir(path.dirname(objectPath), { recursive: true });
    const [size, md5] = await writeWhole(object.content, objectPath);
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
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
