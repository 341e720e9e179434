// The conformance suite (tests/conformance/suite.ts) on the GPU executors (WebGPU on llvmpipe in CI).
// Runs in the sequential second `deno test` process (deno.json "test"): llvmpipe's teardown can
// crash when several WebGPU test files run in parallel.
import { conformance } from "./conformance/suite.ts";
import { GPU_EXECUTORS } from "./conformance/executors.ts";

for (const ex of GPU_EXECUTORS) await conformance(ex);
