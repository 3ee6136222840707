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
const S3rver = require('s3rver');

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
