// A jest environment for tests that call native addons (onnxruntime-node): the addon makes its typed arrays in
// Node's own realm, and libraries check them with `instanceof` in the test's realm, where jest's sandbox has
// other constructors. This environment hands the sandbox Node's typed array and buffer constructors, so both
// realms agree. Opt in per file with a `@jest-environment ./scripts/jest-one-realm-env.js` docblock.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = ['ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array'];

class OneRealmEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OneRealmEnvironment;
