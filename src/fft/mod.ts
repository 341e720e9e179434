/**
 * Batched real FFT (`fft` namespace of the public API): {@link rfft} and {@link irfft} on
 * Float32Arrays (the CPU executor) and on tensors (any backend, differentiable; spectra as
 * `[..., floor(n/2)+1, 2]`), and the one planner {@link getFftPlan}, parameterised by an executor's
 * radix set. Conventions follow numpy.fft / torch.fft.
 *
 * @module
 */

export { irfft, rfft, rfftBins } from "./rfft.ts";
export type { BluesteinPlan, ComplexPlan, FftCapabilities, FftPass, FftPlan, StockhamPlan } from "./plan.ts";
export { BASE_FFT_CAPABILITIES, factorize, getComplexPlan, getFftPlan } from "./plan.ts";
