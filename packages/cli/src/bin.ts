import { main } from './main';

// The package.json next to dist/ is the one source of the version, so changesets bumps stay true.
function version(): string {
  return (require('../package.json') as { version: string }).version;
}

// Only interruptible commands catch Ctrl-C (to save a checkpoint); the others keep Node's default, which
// ends the process at once with code 130.
function catchInterrupt(): AbortSignal {
  const controller = new AbortController();
  process.on('SIGINT', () => {
    // A second Ctrl-C means "now": skip the checkpoint the first one is waiting for.
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  });
  return controller.signal;
}

const argv = process.argv.slice(2);
if (argv[0] === '--version' || argv[0] === '-V') {
  process.stdout.write(version() + '\n');
} else {
  // Exit once the command is done (after stdout/stderr drain): a backend's worker threads or handles left
  // open after an error must not keep the process alive.
  const exit = (code: number) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  main(argv, { stdout: process.stdout, stderr: process.stderr, catchInterrupt }).then(exit, (e: unknown) => {
    process.stderr.write(`vqvid: error: ${(e as Error).message}\n`);
    exit(1);
  });
}
