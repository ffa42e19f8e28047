import { wasmBytes } from '@vqvid/core';

const { END, I32, MODULE_HEADER, name, section, simd, uleb, V128, vec } = wasmBytes;

/** v128.store at byte offset `off` from the address on the stack (the store twin of wasmBytes' LOAD). */
export const STORE = (off: number) => simd(0x0b, 4, ...uleb(off));

/**
 * A module of one exported function `exported` with `params` i32 parameters and no result, that imports the
 * memory it works on as env.memory (any memory of at least one page: a wasm backend's heap). Its locals are
 * `i32Locals` i32 then `v128Locals` v128, numbered after the parameters; `body` is its code without the final end.
 */
export function heapFunctionBytes(params: number, i32Locals: number, v128Locals: number, body: number[], exported: string): Uint8Array<ArrayBuffer> {
  const type = section(1, vec([[0x60, ...vec(new Array(params).fill([I32])), 0]]));
  // (import "env" "memory" (memory 1))
  const imports = section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 1]]));
  const func = section(3, vec([[0]]));
  const exports = section(7, vec([[...name(exported), 0x00, 0]]));
  const code = [...vec([[i32Locals, I32], [v128Locals, V128]]), ...body, END];
  const codeSection = section(10, vec([[...uleb(code.length), ...code]]));
  return new Uint8Array([...MODULE_HEADER, ...type, ...imports, ...func, ...exports, ...codeSection]);
}
