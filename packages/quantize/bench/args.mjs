// Command-line options shared by the benchmarks: `--name value` pairs and the `--quick` flag.
const args = process.argv.slice(2);

/** Value after `--name`, or `dflt` when absent. */
export const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};

/** Whether `--quick` (small sizes, a run of seconds) was given. */
export const quick = args.includes('--quick');
