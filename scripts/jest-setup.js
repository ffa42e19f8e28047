// tfjs's cpu backend prints a banner ("install our node backend") the first time it runs in Node; tfjs-node
// cannot install here, so in tests it is noise. PROD only silences tfjs's logging in tfjs-core 4.22 (unlike
// IS_TEST, which also turns on per-kernel leak checks).
require('@tensorflow/tfjs-core').env().set('PROD', true);
