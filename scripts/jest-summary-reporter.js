/**
 * Prints one plain closing line, "tests: N passed, N failed, N skipped", after jest's own summary, so CI logs
 * carry a summary any reader (human or tool) can parse.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests: p, numFailedTests: f, numPendingTests: s, numTodoTests: t } = results;
    const failedSuites = results.numFailedTestSuites + results.numRuntimeErrorTestSuites;
    process.stdout.write(`\ntests: ${p} passed, ${f + (f === 0 && failedSuites ? failedSuites : 0)} failed, ${s + t} skipped\n`);
  }
}
module.exports = SummaryReporter;
