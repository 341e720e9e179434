// The conformance suite (tests/conformance/suite.ts) on the CPU executors: wasm, and wasm without its
// fused kernels (the ops' composed fallbacks).
import { conformance } from "./conformance/suite.ts";
import { CPU_EXECUTORS } from "./conformance/executors.ts";

for (const ex of CPU_EXECUTORS) await conformance(ex);
